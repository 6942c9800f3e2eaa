/**
 * Who may use the dashboard: scrypt password hashes, API tokens, sessions with
 * their CSRF token, and the login rate limit. Pure apart from the crypto calls;
 * time comes from an injected clock so that expiry and the limit are tested from
 * tables.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { WebRole } from '../config/web-schema.ts';

/** scrypt cost parameters for new hashes: N=2^15, r=8, p=1 (~32 MiB, ~50-100 ms here). */
const SCRYPT = { N: 32_768, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

function scryptAsync(password: string, salt: Buffer, N: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_LENGTH, { N, r, p, maxmem: 256 * N * r + 1_048_576 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** A hash for the cluster file: `scrypt$N$r$p$salt$hash`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Whether `password` matches `hash` (constant time in the key comparison). A malformed hash never matches. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const parts = hash.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (![N, r, p].every((n) => Number.isInteger(n) && n > 0) || N > 1_048_576 || r > 32 || p > 16) return false;
  const want = Buffer.from(parts[5]!, 'base64url');
  try {
    const got = await scryptAsync(password, Buffer.from(parts[4]!, 'base64url'), N, r, p);
    return got.length === want.length && timingSafeEqual(got, want);
  } catch {
    return false;
  }
}

/** A fresh API token and the SHA-256 that goes in the cluster file. */
export function newToken(): { token: string; sha256: string } {
  const token = `pal_${randomBytes(24).toString('base64url')}`;
  return { token, sha256: sha256Hex(token) };
}

export function sha256Hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

export interface Session {
  id: string;
  user: string;
  role: WebRole;
  /** Sent back in `X-CSRF-Token` on every state-changing request. */
  csrf: string;
  /** ms since the epoch; pushed forward on each use. */
  expires: number;
}

/** Sessions in memory: a daemon restart logs everyone out, which is the safe side. */
export class SessionStore {
  readonly #sessions = new Map<string, Session>();
  readonly #now: () => number;
  #lifetime: number;
  /** At most this many sessions; the oldest is dropped beyond (a flood of logins cannot grow memory). */
  readonly #max: number;

  constructor(lifetimeMs: number, now: () => number = Date.now, max = 10_000) {
    this.#lifetime = lifetimeMs;
    this.#now = now;
    this.#max = max;
  }

  set lifetime(ms: number) {
    this.#lifetime = ms;
  }

  create(user: string, role: WebRole): Session {
    if (this.#sessions.size >= this.#max) this.#sessions.delete(this.#sessions.keys().next().value!);
    const s: Session = { id: randomBytes(32).toString('base64url'), user, role, csrf: randomBytes(24).toString('base64url'), expires: this.#now() + this.#lifetime };
    this.#sessions.set(s.id, s);
    return s;
  }

  /** The live session for a cookie value (its expiry pushed forward), or undefined. */
  get(id: string | undefined): Session | undefined {
    if (id === undefined) return undefined;
    const s = this.#sessions.get(id);
    if (s === undefined) return undefined;
    const now = this.#now();
    if (s.expires <= now) {
      this.#sessions.delete(id);
      return undefined;
    }
    s.expires = now + this.#lifetime;
    return s;
  }

  delete(id: string | undefined): void {
    if (id !== undefined) this.#sessions.delete(id);
  }

  /** Ends the sessions of users that are gone or whose role changed (after a reload). */
  retain(valid: (user: string, role: WebRole) => boolean): void {
    for (const [id, s] of this.#sessions) if (!valid(s.user, s.role)) this.#sessions.delete(id);
  }

  get size(): number {
    return this.#sessions.size;
  }
}

/** Constant-time string comparison (CSRF tokens). */
export function sameSecret(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Failed logins per client address within a window (fixed window per address).
 * `check` before verifying a password (the scrypt work is not done for a blocked
 * client); `fail` after a wrong one; `succeed` clears the address.
 */
export class LoginLimiter {
  readonly #failures = new Map<string, { count: number; since: number }>();
  readonly #now: () => number;
  attempts: number;
  windowMs: number;
  readonly #max: number;

  constructor(attempts: number, windowMs: number, now: () => number = Date.now, maxClients = 10_000) {
    this.attempts = attempts;
    this.windowMs = windowMs;
    this.#now = now;
    this.#max = maxClients;
  }

  /** 0 when the client may try, else the ms until it may. */
  retryAfter(client: string): number {
    const f = this.#failures.get(client);
    if (f === undefined) return 0;
    const left = f.since + this.windowMs - this.#now();
    if (left <= 0) {
      this.#failures.delete(client);
      return 0;
    }
    return f.count >= this.attempts ? left : 0;
  }

  fail(client: string): void {
    const now = this.#now();
    const f = this.#failures.get(client);
    if (f === undefined || f.since + this.windowMs <= now) {
      if (f === undefined && this.#failures.size >= this.#max) this.#failures.delete(this.#failures.keys().next().value!);
      this.#failures.set(client, { count: 1, since: now });
    } else f.count++;
  }

  succeed(client: string): void {
    this.#failures.delete(client);
  }
}
