/**
 * Cookie persistence (HAProxy `cookie NAME insert`, nginx `sticky cookie`): the
 * proxy sets a cookie naming the backend that answered and sends later requests
 * carrying it to that backend while it is usable. The value is an opaque keyed hash
 * of the backend's id, never its address; it survives reloads and is the same on
 * every director that shares the secret.
 */
import { createHmac } from 'node:crypto';
import type { Backend, PickContext, Scheduler } from './types.ts';
import { isFull } from './pool.ts';

/**
 * The cookie value for a backend id: the first 9 bytes of HMAC-SHA256(secret, id)
 * in base64url (12 characters).
 */
export function stickyValue(id: string, secret: string): string {
  return createHmac('sha256', secret).update(id).digest().subarray(0, 9).toString('base64url');
}

/**
 * The key to use when the config gives no `secret`: derived from the cluster and
 * service names, so that every director and every reload agree. Such values hide
 * the address from clients, but can be recomputed by whoever knows the names and
 * the addresses; set `secret` for more.
 */
export function stickySecret(configured: string | undefined, clusterName: string, serviceName: string): string {
  return configured ?? `palisade-sticky/${clusterName}/${serviceName}`;
}

/** The value of cookie `name` in a `Cookie` header, or undefined. Does not allocate when absent. */
export function readCookie(header: string | undefined, name: string, ignoreCase = false): string | undefined {
  if (header === undefined || header === '') return undefined;
  let i = 0;
  const len = header.length;
  while (i < len) {
    while (i < len && (header.charCodeAt(i) === 32 || header.charCodeAt(i) === 9)) i++;
    let semi = header.indexOf(';', i);
    if (semi < 0) semi = len;
    const eq = header.indexOf('=', i);
    if (eq > i && eq < semi) {
      let nameEnd = eq;
      while (nameEnd > i && header.charCodeAt(nameEnd - 1) === 32) nameEnd--;
      if (nameEnd - i === name.length && (ignoreCase ? header.slice(i, nameEnd).toLowerCase() === name.toLowerCase() : header.startsWith(name, i))) {
        let v = header.slice(eq + 1, semi).trim();
        if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
        return v;
      }
    }
    i = semi + 1;
  }
  return undefined;
}

export interface StickyOptions {
  /** Cookie name. */
  cookie: string;
  /** Key of the value hash; the same on every director of the cluster. */
  secret: string;
  /** Cookie lifetime in ms (`Max-Age`); undefined = a session cookie. */
  expires?: number | undefined;
  /** Default `/`. */
  path?: string | undefined;
  domain?: string | undefined;
  /** Default true. */
  httpOnly?: boolean | undefined;
  /** Default false. */
  secure?: boolean | undefined;
  /** Default `lax`. */
  sameSite?: 'lax' | 'strict' | 'none' | undefined;
}

/**
 * Cookie values of a service's backends, both ways. Build one per service (again on
 * reload: values depend only on ids and the secret, so they stay valid).
 *
 * ```ts
 * const sticky = new StickyCookies(backends, { cookie: 'srv', secret });
 * const b = sticky.pick(ctx, req.headers.cookie, scheduler) // remembered or newly scheduled
 * if (b && sticky.fromCookie(req.headers.cookie) !== b) res.setHeader('set-cookie', sticky.setCookie(b));
 * ```
 */
export class StickyCookies {
  readonly options: Readonly<StickyOptions>;
  readonly #byValue = new Map<string, Backend>();
  readonly #byBackend = new Map<Backend, string>();
  readonly #attributes: string;

  constructor(backends: readonly Backend[], options: StickyOptions) {
    this.options = options;
    for (const b of backends) {
      const v = stickyValue(b.id, options.secret);
      this.#byBackend.set(b, v);
      if (!this.#byValue.has(v)) this.#byValue.set(v, b);
    }
    let a = `; Path=${options.path ?? '/'}`;
    if (options.domain !== undefined) a += `; Domain=${options.domain}`;
    if (options.expires !== undefined) a += `; Max-Age=${Math.floor(options.expires / 1000)}`;
    if (options.httpOnly ?? true) a += '; HttpOnly';
    if (options.secure ?? false) a += '; Secure';
    const ss = options.sameSite ?? 'lax';
    a += `; SameSite=${ss[0]!.toUpperCase()}${ss.slice(1)}`;
    this.#attributes = a;
  }

  /** The cookie value for a backend of this set (computed when it is not one). */
  valueFor(b: Backend): string {
    return this.#byBackend.get(b) ?? stickyValue(b.id, this.options.secret);
  }

  /** The backend a cookie value names, or undefined (unknown, forged, or a removed backend). */
  backendFor(value: string | undefined): Backend | undefined {
    return value === undefined ? undefined : this.#byValue.get(value);
  }

  /** The backend named by the sticky cookie in a `Cookie` header, or undefined. */
  fromCookie(cookieHeader: string | undefined): Backend | undefined {
    return this.backendFor(readCookie(cookieHeader, this.options.cookie));
  }

  /** A `Set-Cookie` header value sending the client to `b`. */
  setCookie(b: Backend): string {
    return `${this.options.cookie}=${this.valueFor(b)}${this.#attributes}`;
  }

  /**
   * The cookie's backend when it is usable for this request (the scheduler has it up
   * at weight > 0, not full, accepted by `ctx.accept`), else the scheduler's pick.
   */
  pick(ctx: PickContext, cookieHeader: string | undefined, scheduler: Scheduler): Backend | undefined {
    const b = this.fromCookie(cookieHeader);
    if (b !== undefined && (scheduler.available?.(b) ?? true) && !isFull(b) && (ctx.accept === undefined || ctx.accept(b))) return b;
    return scheduler.pick(ctx);
  }
}
