/**
 * The dashboard and admin API: hono on node:http (or node:https with `web.tls`),
 * a JSON API over the facade, Server-Sent Events for live updates, and the UI
 * bundle. Access: a session cookie (HttpOnly, SameSite=Strict) from a password
 * login, or `Authorization: Bearer TOKEN`; every state-changing request made with a
 * session carries the session's CSRF token in `X-CSRF-Token`; actions need the
 * admin role. The API reference is docs/dashboard.md.
 */
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { BlockList, isIPv4, type AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { getRequestListener, type HttpBindings } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import { cidrList as cidrBlockList } from '../config/l4-schema.ts';
import type { WebConfig, WebRole } from '../config/web-schema.ts';
import type { Logger } from '../core/logger.ts';
import { errorMessage } from '../core/errors.ts';
import { LoginLimiter, SessionStore, sameSecret, sha256Hex, verifyPassword } from './auth.ts';
import { buildBundle, type Bundle } from './bundle.ts';
import type { BackendAction, WebFacade } from './facade.ts';
import { LiveState, sseFrame } from './live.ts';
import { VIEWS, type ViewName } from '../core/series.ts';
import { PROMETHEUS_CONTENT_TYPE } from '../core/prometheus.ts';
import { LogSampler } from '../core/log-sampler.ts';

export const SESSION_COOKIE = 'palisade_session';
/** How often the live stream looks for a changed snapshot, ms (updates reach the page within this plus the render). */
const TICK_MS = 500;
const KEEPALIVE_MS = 15_000;
/** A page this many frames behind (not reading its stream) is cut off; it reconnects and starts from a fresh snapshot. */
const MAX_PENDING_FRAMES = 64;
const KEEPALIVE_FRAME = new TextEncoder().encode(': keepalive\n\n');

interface Principal {
  user: string;
  role: WebRole;
  /** undefined for a token (no cookie, so no CSRF to fear). */
  csrf: string | undefined;
  sessionId?: string;
}

type Env = { Bindings: HttpBindings; Variables: { who: Principal } };

export interface WebServerOptions {
  facade: WebFacade;
  log: Logger;
  /** Resolves `tls` file names. */
  baseDir: string;
  now?: () => number;
}

/** The page, naming the assets by their content hash (cached for good by the browser: a new bundle gets new names). */
const page = (etag: string) => `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Palisade</title>
<link rel="stylesheet" href="/assets/app-${etag}.css">
<script src="/assets/app-${etag}.js" defer></script>
</head><body><div id="app"><noscript>The Palisade dashboard needs JavaScript.</noscript></div></body></html>
`;

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

const ACTIONS: readonly BackendAction[] = ['drain', 'maint', 'enable', 'weight'];

function clientAddress(c: Context<Env>): string {
  return (c.env.incoming as IncomingMessage).socket.remoteAddress ?? '?';
}

/** `web.allow` / `web.deny` as matchers, made once per (re)loaded config. */
const accessLists = new WeakMap<WebConfig, { allow: BlockList | undefined; deny: BlockList | undefined }>();

/** Whether `web.allow` / `web.deny` let this client in (IPv4-mapped IPv6 clients match IPv4 ranges). */
export function clientAllowed(cfg: WebConfig, address: string): boolean {
  if (cfg.allow.length === 0 && cfg.deny.length === 0) return true;
  let lists = accessLists.get(cfg);
  if (lists === undefined) {
    lists = { allow: cfg.allow.length > 0 ? cidrBlockList(cfg.allow) : undefined, deny: cfg.deny.length > 0 ? cidrBlockList(cfg.deny) : undefined };
    accessLists.set(cfg, lists);
  }
  const v4 = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
  const family = isIPv4(v4) ? 'ipv4' : 'ipv6';
  if (lists.deny?.check(v4, family) === true) return false;
  return lists.allow === undefined || lists.allow.check(v4, family);
}

async function jsonBody(c: Context<Env>): Promise<Record<string, unknown> | undefined> {
  if (!(c.req.header('content-type') ?? '').startsWith('application/json')) return undefined;
  try {
    const v: unknown = await c.req.json();
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export class WebServer {
  readonly #facade: WebFacade;
  readonly #log: Logger;
  readonly #refusals = new LogSampler(1_000);
  readonly #baseDir: string;
  readonly #sessions: SessionStore;
  readonly #limiter: LoginLimiter;
  /** Live pages, with the number of frames written to each and not yet taken by the socket. */
  readonly #clients = new Map<SSEStreamingApi, { pending: number }>();
  readonly #live = new LiveState();
  readonly #now: () => number;
  #server: Server | undefined;
  #ticker: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  #bundle: Promise<Bundle> | undefined;
  #page = '';
  #unsubscribe: (() => void) | undefined;
  readonly app: Hono<Env>;

  constructor(o: WebServerOptions) {
    this.#facade = o.facade;
    this.#log = o.log;
    this.#baseDir = o.baseDir;
    this.#now = o.now ?? Date.now;
    const cfg = o.facade.webConfig();
    this.#sessions = new SessionStore(cfg.session_lifetime, o.now);
    this.#limiter = new LoginLimiter(cfg.login_attempts, cfg.login_window, o.now);
    this.app = this.#routes();
  }

  /** The listening address (after `start`). */
  get address(): AddressInfo | undefined {
    const a = this.#server?.address();
    return typeof a === 'object' && a !== null ? a : undefined;
  }

  get url(): string {
    const a = this.address;
    const tls = this.#facade.webConfig().tls !== undefined;
    if (a === undefined) return '';
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `${tls ? 'https' : 'http'}://${host}:${a.port}/`;
  }

  /** Builds the UI bundle, opens the listener; rejects (nothing left open) if it cannot. */
  async start(): Promise<void> {
    const cfg = this.#facade.webConfig();
    this.#bundle = buildBundle();
    this.#page = page((await this.#bundle).etag);
    const listener = getRequestListener(this.app.fetch, { overrideGlobalObjects: false });
    let server: Server;
    if (cfg.tls !== undefined) {
      const [cert, key] = await Promise.all([readFile(resolve(this.#baseDir, cfg.tls.cert)), readFile(resolve(this.#baseDir, cfg.tls.key))]);
      server = createHttpsServer({ cert, key }, listener);
    } else {
      server = createHttpServer(listener);
    }
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(cfg.listen.port, cfg.listen.host, () => {
        server.off('error', fail);
        ok();
      });
    });
    server.on('error', (err) => this.#log.error({ err: errorMessage(err) }, 'dashboard server error'));
    this.#server = server;
    this.#unsubscribe = this.#facade.onTimeline((e) => {
      if (this.#clients.size === 0) return;
      const frame = sseFrame('timeline', JSON.stringify(e));
      for (const s of this.#clients.keys()) this.#send(s, frame);
    });
    this.#ticker = setInterval(() => void this.#tick(), TICK_MS);
    this.#ticker.unref();
  }

  /** A reload changed `web:`: the new users, lifetime and limits apply now (listen and tls at restart). */
  reconfigured(): void {
    const cfg = this.#facade.webConfig();
    this.#sessions.lifetime = cfg.session_lifetime;
    this.#limiter.attempts = cfg.login_attempts;
    this.#limiter.windowMs = cfg.login_window;
    void this.#facade.users().then((users) => {
      this.#sessions.retain((user, role) => users[user]?.role === role || cfg.tokens.some((t) => t.name === user && t.role === role));
    });
  }

  async close(): Promise<void> {
    if (this.#ticker !== undefined) clearInterval(this.#ticker);
    this.#unsubscribe?.();
    for (const s of this.#clients.keys()) s.abort();
    this.#clients.clear();
    const server = this.#server;
    if (server === undefined) return;
    await new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  }

  #tick(): void {
    if (this.#clients.size > 0) void this.#refresh();
  }

  /**
   * Reads the snapshot and the checks and pushes what changed to every live page.
   * One at a time: a caller during a refresh waits for that one.
   */
  #refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        const snap = await this.#facade.snapshot();
        const frames = this.#live.update(snap, this.#facade.checks(), this.#now());
        for (const f of frames) for (const s of this.#clients.keys()) this.#send(s, f);
      } catch (err) {
        this.#log.warn({ err: errorMessage(err) }, 'dashboard: snapshot failed');
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  /** Queues a frame for a page; a page that stopped reading is cut off instead of piling frames up here. */
  #send(s: SSEStreamingApi, frame: Uint8Array): void {
    const c = this.#clients.get(s);
    if (c === undefined) return;
    if (c.pending >= MAX_PENDING_FRAMES) {
      this.#clients.delete(s);
      this.#log.warn('dashboard: a page stopped reading its live stream; cut off');
      s.abort();
      return;
    }
    c.pending++;
    void s.write(frame).then(() => c.pending--);
  }

  async #principal(c: Context<Env>): Promise<Principal | undefined> {
    const auth = c.req.header('authorization');
    if (auth !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(auth);
      if (m === null) return undefined;
      const hash = sha256Hex(m[1]!);
      const t = this.#facade.webConfig().tokens.find((x) => sameSecret(x.sha256, hash));
      return t === undefined ? undefined : { user: t.name, role: t.role, csrf: undefined };
    }
    const s = this.#sessions.get(getCookie(c, SESSION_COOKIE));
    return s === undefined ? undefined : { user: s.user, role: s.role, csrf: s.csrf, sessionId: s.id };
  }

  #routes(): Hono<Env> {
    const app = new Hono<Env>();
    const secure = () => this.#facade.webConfig().tls !== undefined;

    // web.allow / web.deny first: a refused client learns nothing else (sampled log line).
    app.use('*', async (c, next) => {
      const addr = clientAddress(c);
      if (!clientAllowed(this.#facade.webConfig(), addr)) {
        const left = this.#refusals.take('access', performance.now());
        if (left >= 0) this.#log.warn({ client: addr, suppressed: left }, `dashboard: ${addr} refused by web.allow / web.deny${left > 0 ? ` (${left} more since the last line)` : ''}`);
        return c.text('forbidden\n', 403);
      }
      await next();
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(k, v);
      if (c.req.path.startsWith('/api/')) c.res.headers.set('cache-control', 'no-store');
    });
    app.onError((err, c) => {
      this.#log.error({ err: errorMessage(err), path: c.req.path }, 'dashboard request failed');
      return c.json({ error: 'internal error' }, 500);
    });

    app.get('/', (c) => c.html(this.#page, 200, { 'cache-control': 'no-cache' }));
    // app-HASH.js and app-HASH.css never change: cached for good. app.js and app.css (the current bundle) are revalidated.
    app.get('/assets/:file', async (c) => {
      const b = await this.#bundle;
      const m = /^app(?:-([0-9a-f]{16}))?\.(js|css)$/.exec(c.req.param('file'));
      if (b === undefined || m === null || (m[1] !== undefined && m[1] !== b.etag)) return c.notFound();
      const js = m[2] === 'js';
      const etag = `"${b.etag}"`;
      const headers: Record<string, string> = {
        'content-type': js ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8',
        etag,
        'cache-control': m[1] === undefined ? 'no-cache' : 'public, max-age=31536000, immutable',
        vary: 'accept-encoding',
      };
      if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers);
      if (/\bgzip\b/.test(c.req.header('accept-encoding') ?? '')) {
        headers['content-encoding'] = 'gzip';
        return c.body(js ? b.jsGzip : b.cssGzip, 200, headers);
      }
      return c.body(js ? b.js : b.css, 200, headers);
    });

    // Prometheus scrapes: an API token (or a session) unless web.metrics_public is set. docs/agent.md lists the metrics.
    app.get('/metrics', async (c) => {
      if (!this.#facade.webConfig().metrics_public && (await this.#principal(c)) === undefined) {
        return c.text('login required: Authorization: Bearer TOKEN (or set web.metrics_public)\n', 401, { 'www-authenticate': 'Bearer' });
      }
      return c.body((await this.#facade.prometheus?.()) ?? '', 200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' });
    });

    app.post('/api/login', async (c) => {
      const client = clientAddress(c);
      const wait = this.#limiter.retryAfter(client);
      if (wait > 0) {
        c.header('retry-after', String(Math.ceil(wait / 1000)));
        return c.json({ error: `too many failed logins; try again in ${Math.ceil(wait / 1000)} s` }, 429);
      }
      const body = await jsonBody(c);
      const user = typeof body?.user === 'string' ? body.user : '';
      const password = typeof body?.password === 'string' ? body.password : '';
      const u = user === '' ? undefined : (await this.#facade.users())[user];
      // A wrong user name costs the same scrypt work as a wrong password.
      const ok = await verifyPassword(password, u?.password_hash ?? DUMMY_HASH);
      if (u === undefined || !ok) {
        this.#limiter.fail(client);
        this.#log.warn({ user, client }, 'dashboard: failed login');
        return c.json({ error: 'wrong user name or password' }, 401);
      }
      this.#limiter.succeed(client);
      const s = this.#sessions.create(user, u.role);
      setCookie(c, SESSION_COOKIE, s.id, { httpOnly: true, sameSite: 'Strict', secure: secure(), path: '/' });
      this.#facade.audit(user, 'login', 'dashboard', { client });
      return c.json({ user, role: s.role, csrf: s.csrf });
    });

    // Everything else under /api needs a principal; state-changing requests with a session need its CSRF token.
    app.use('/api/*', async (c, next) => {
      const who = await this.#principal(c);
      if (who === undefined) return c.json({ error: 'login required' }, 401);
      if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && who.csrf !== undefined && !sameSecret(c.req.header('x-csrf-token'), who.csrf)) {
        this.#log.warn({ user: who.user, path: c.req.path }, 'dashboard: request without a valid CSRF token refused');
        return c.json({ error: 'missing or wrong CSRF token (X-CSRF-Token)' }, 403);
      }
      c.set('who', who);
      await next();
    });
    const admin = async (c: Context<Env>, next: () => Promise<void>) => {
      if (c.get('who').role !== 'admin') return c.json({ error: 'this needs the admin role' }, 403);
      await next();
    };

    app.get('/api/session', (c) => {
      const w = c.get('who');
      return c.json({ user: w.user, role: w.role, csrf: w.csrf ?? null });
    });
    app.post('/api/logout', (c) => {
      const w = c.get('who');
      this.#sessions.delete(w.sessionId);
      deleteCookie(c, SESSION_COOKIE, { path: '/' });
      this.#facade.audit(w.user, 'logout', 'dashboard');
      return c.json({ ok: true });
    });
    app.get('/api/snapshot', async (c) => c.json(await this.#facade.snapshot()));
    app.get('/api/checks', (c) => c.json(this.#facade.checks()));
    app.get('/api/timeline', (c) => c.json(this.#facade.timeline(Math.min(1000, Number(c.req.query('limit') ?? 200) || 200))));
    app.get('/api/metrics', async (c) => c.json(await this.#facade.metrics(c.req.query('object') ?? '')));
    app.get('/api/series', async (c) => {
      const object = c.req.query('object') ?? '';
      const label = c.req.query('label') ?? '';
      const view = (c.req.query('view') ?? '4h') as ViewName;
      if (!(view in VIEWS)) return c.json({ error: `view must be one of ${Object.keys(VIEWS).join(', ')}` }, 400);
      const s = await this.#facade.series(object, label, view);
      return s === undefined ? c.json({ error: `no data for ${object} ${label}` }, 404) : c.json(s);
    });

    app.get('/api/stream', (c) =>
      streamSSE(c, async (stream) => {
        const w = c.get('who');
        // The page starts from the snapshot the other pages have (at most one tick old), so that the next patch applies to it.
        if (!this.#live.ready || this.#now() - this.#live.updatedAt > TICK_MS) await this.#refresh();
        // No snapshot (the failure is logged by #refresh): end this stream; the browser's EventSource comes back in a few seconds.
        if (!this.#live.ready) return;
        // Synchronous from here to the writes: no patch can come between this page's baseline and its first patch.
        this.#clients.set(stream, { pending: 0 });
        stream.onAbort(() => {
          this.#clients.delete(stream);
        });
        this.#send(stream, sseFrame('session', JSON.stringify({ user: w.user, role: w.role, csrf: w.csrf ?? null })));
        for (const f of this.#live.baseline()) this.#send(stream, f);
        this.#send(stream, sseFrame('timelineAll', JSON.stringify(this.#facade.timeline(200))));
        while (!stream.aborted && !stream.closed) {
          await stream.sleep(KEEPALIVE_MS);
          if (!stream.aborted) this.#send(stream, KEEPALIVE_FRAME);
        }
        this.#clients.delete(stream);
      }),
    );

    app.post('/api/backends/:service/:backend/:action', admin, async (c) => {
      const service = c.req.param('service') ?? '';
      const backend = c.req.param('backend') ?? '';
      const action = c.req.param('action') ?? '';
      if (!ACTIONS.includes(action as BackendAction)) return c.json({ error: `action must be one of ${ACTIONS.join(', ')}` }, 400);
      const body = action === 'weight' ? await jsonBody(c) : {};
      const weight = body?.weight;
      if (action === 'weight' && typeof weight !== 'number') return c.json({ error: 'expected a JSON body { "weight": N }' }, 400);
      const r = await this.#facade.operateBackend(c.get('who').user, service, backend, action as BackendAction, weight as number | undefined);
      return c.json(r.ok ? { ok: true, message: r.message } : { error: r.message }, r.ok ? 200 : (r.status ?? 400));
    });
    app.post('/api/checks/:action', admin, async (c) => {
      const action = c.req.param('action');
      const body = await jsonBody(c);
      const object = typeof body?.object === 'string' ? body.object : '';
      const comment = typeof body?.comment === 'string' ? body.comment.slice(0, 1000) : '';
      const who = c.get('who').user;
      if (object === '') return c.json({ error: 'expected a JSON body with "object": "host" or "host/service"' }, 400);
      let r;
      if (action === 'ack') {
        if (comment.trim() === '') return c.json({ error: 'an acknowledgement needs a comment' }, 400);
        r = this.#facade.acknowledge(who, object, comment, body?.sticky === true);
      } else if (action === 'unack') {
        r = this.#facade.removeAcknowledgement(who, object);
      } else if (action === 'downtime') {
        const minutes = body?.minutes;
        if (!isMinutes(minutes)) return c.json({ error: 'expected "minutes": a number from 1 to 525600' }, 400);
        const flexible = body?.flexible === true;
        const within = body?.within_minutes;
        if (flexible && !isMinutes(within)) return c.json({ error: 'flexible downtime: expected "within_minutes": a number from 1 to 525600 (the window in which it may start)' }, 400);
        if (!flexible && within !== undefined) return c.json({ error: '"within_minutes" goes with "flexible": true' }, 400);
        r = this.#facade.scheduleDowntime(who, object, { durationMs: minutes * 60_000, comment, ...(flexible && { flexibleWithinMs: (within as number) * 60_000 }) });
      } else if (action === 'recheck') {
        r = await this.#facade.recheck(who, object);
      } else {
        return c.json({ error: 'action must be ack, unack, downtime or recheck' }, 404);
      }
      return c.json(r.ok ? { ok: true, message: r.message } : { error: r.message }, r.ok ? 200 : (r.status ?? 400));
    });
    app.get('/api/downtimes', (c) => c.json(this.#facade.downtimes()));
    app.post('/api/downtimes/:id/cancel', admin, (c) => {
      const id = Number(c.req.param('id'));
      if (!Number.isSafeInteger(id) || id <= 0) return c.json({ error: 'a downtime id is a positive integer (GET /api/downtimes lists them)' }, 400);
      const r = this.#facade.cancelDowntime(c.get('who').user, id);
      return c.json(r.ok ? { ok: true, message: r.message } : { error: r.message }, r.ok ? 200 : (r.status ?? 400));
    });
    app.notFound((c) => (c.req.path.startsWith('/api/') ? c.json({ error: 'no such API' }, 404) : c.text('not found', 404)));
    return app;
  }
}

const isMinutes = (v: unknown): v is number => typeof v === 'number' && v >= 1 && v <= 525_600;

/** A valid hash of a random password: unknown users cost the same scrypt work. */
const DUMMY_HASH = 'scrypt$32768$8$1$bm90LWEtcmVhbC1zYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
