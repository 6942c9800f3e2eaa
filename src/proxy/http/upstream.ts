/**
 * Pooled keep-alive connections to one backend, on raw `net` sockets.
 *
 * Each connection attaches its socket listeners once and hands events to whoever
 * is using it (`UpstreamUser`): no per-request listeners, closures or streams.
 */
import { connect, type Socket } from 'node:net';
import type { ServiceConfig } from '../../config/schema.ts';
import { DeadlineSweeper, now, type Expirable } from '../../core/deadlines.ts';
import type { Backend } from '../../balancer/index.ts';

/** What a connection in use reports to its user. */
export interface UpstreamUser {
  upstreamConnected(conn: UpstreamConn): void;
  upstreamData(conn: UpstreamConn, chunk: Buffer): void;
  /** The socket ended, failed or timed out. `timeout` tells which deadline passed. */
  upstreamFailed(conn: UpstreamConn, err: Error | undefined, timeout: boolean): void;
  upstreamDrain(conn: UpstreamConn): void;
}

const CONNECTING = 0;
const IDLE = 1;
const BUSY = 2;
const CLOSED = 3;

export const upstreamSweeper = new DeadlineSweeper(100);

/** Size of each connection's read buffer, bytes. */
const READ_BUFFER = 64 * 1024;

export class UpstreamConn implements Expirable {
  readonly socket: Socket;
  readonly pool: UpstreamPool;
  state = CONNECTING;
  user: UpstreamUser | null = null;
  /** Requests completed on this connection. */
  requests = 0;
  /** Taken from the idle pool (so a failure before any response byte may be a stale close). */
  reused = false;
  deadline = 0;
  idleSince = 0;

  constructor(pool: UpstreamPool, user: UpstreamUser, connectTimeout: number) {
    this.pool = pool;
    this.user = user;
    const b = pool.backend;
    // Reads land in one buffer per connection, reused: no 64 KiB allocation per read,
    // which under large responses made V8 run a full GC every few milliseconds. The
    // user must not keep a view of a chunk past its callback unless it pauses this
    // socket until it is done with it (see ClientConn's flush tracking).
    const s = connect({ host: b.host, port: b.port, noDelay: true, onread: { buffer: Buffer.allocUnsafe(READ_BUFFER), callback: this.#onRead } });
    this.socket = s;
    this.deadline = now() + connectTimeout;
    upstreamSweeper.add(this);
    s.on('connect', this.#onConnect);
    s.on('end', this.#onEnd);
    s.on('error', this.#onError);
    s.on('close', this.#onClose);
    s.on('drain', this.#onDrain);
  }

  get busy(): boolean {
    return this.state === BUSY;
  }

  #onConnect = (): void => {
    if (this.state !== CONNECTING) return;
    this.state = BUSY;
    this.deadline = 0;
    this.user?.upstreamConnected(this);
  };

  #onRead = (n: number, buf: Uint8Array): boolean => {
    if (this.state === BUSY && this.user !== null) {
      this.user.upstreamData(this, (buf as Buffer).subarray(0, n));
      return true;
    }
    this.destroy(); // data on an idle connection: the backend is confused; never reuse it
    return false;
  };

  #onEnd = (): void => {
    this.#fail(undefined, false);
  };

  #onError = (err: Error): void => {
    this.#fail(err, false);
  };

  #onClose = (): void => {
    this.#fail(undefined, false);
  };

  #onDrain = (): void => {
    if (this.state === BUSY) this.user?.upstreamDrain(this);
  };

  #fail(err: Error | undefined, timeout: boolean): void {
    const wasIdle = this.state === IDLE;
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    upstreamSweeper.delete(this);
    if (wasIdle) this.pool.forget(this);
    const user = this.user;
    this.user = null;
    this.socket.destroy();
    if (user !== null) user.upstreamFailed(this, err, timeout);
  }

  expire(): void {
    if (this.state === IDLE) {
      this.destroy();
      return;
    }
    this.#fail(undefined, true);
  }

  /** Sets the deadline `ms` from now (0 = none). */
  arm(ms: number): void {
    this.deadline = ms === 0 ? 0 : now() + ms;
  }

  /** Closes the connection without telling its user. */
  destroy(): void {
    if (this.state === CLOSED) return;
    const wasIdle = this.state === IDLE;
    this.state = CLOSED;
    this.user = null;
    upstreamSweeper.delete(this);
    if (wasIdle) this.pool.forget(this);
    this.socket.destroy();
  }

  /** Back to the pool after a complete exchange, or closed if the pool is full. */
  release(): void {
    this.requests++;
    this.user = null;
    this.pool.release(this);
  }

  /** Called by the pool when it hands this idle connection out. */
  take(user: UpstreamUser): void {
    this.state = BUSY;
    this.user = user;
    this.reused = true;
    this.deadline = 0;
    this.socket.resume();
  }

  makeIdle(idleTimeout: number): void {
    this.state = IDLE;
    this.idleSince = now();
    this.deadline = this.idleSince + idleTimeout;
    // A paused idle socket would never report the backend closing it.
    this.socket.resume();
  }
}

export class UpstreamPool {
  readonly backend: Backend;
  readonly #idle: UpstreamConn[] = [];
  #maxIdle: number;
  #idleTimeout: number;
  #maxRequests: number;
  #connectTimeout: number;

  constructor(backend: Backend, svc: ServiceConfig) {
    this.backend = backend;
    this.#maxIdle = svc.keepalive.max_idle;
    this.#idleTimeout = svc.keepalive.idle_timeout;
    this.#maxRequests = svc.keepalive.max_requests;
    this.#connectTimeout = svc.timeouts.connect;
  }

  reconfigure(svc: ServiceConfig): void {
    this.#maxIdle = svc.keepalive.max_idle;
    this.#idleTimeout = svc.keepalive.idle_timeout;
    this.#maxRequests = svc.keepalive.max_requests;
    this.#connectTimeout = svc.timeouts.connect;
    while (this.#idle.length > this.#maxIdle) this.#idle.shift()!.destroy();
  }

  get idleCount(): number {
    return this.#idle.length;
  }

  /**
   * A connection for `user`: the most recently used idle one (warmest), else a new
   * one. For a new one, `user.upstreamConnected` is called once connected; for a
   * pooled one the caller proceeds at once (check `conn.reused`).
   */
  acquire(user: UpstreamUser, fresh = false): UpstreamConn {
    if (!fresh) {
      const c = this.#idle.pop();
      if (c !== undefined) {
        (this.backend as { inactive: number }).inactive = this.#idle.length;
        c.take(user);
        return c;
      }
    }
    return new UpstreamConn(this, user, this.#connectTimeout);
  }

  release(c: UpstreamConn): void {
    if (this.#maxIdle === 0 || this.#idle.length >= this.#maxIdle || (this.#maxRequests !== 0 && c.requests >= this.#maxRequests) || c.socket.destroyed) {
      c.destroy();
      return;
    }
    c.makeIdle(this.#idleTimeout);
    this.#idle.push(c);
    (this.backend as { inactive: number }).inactive = this.#idle.length;
  }

  forget(c: UpstreamConn): void {
    const i = this.#idle.indexOf(c);
    if (i >= 0) {
      this.#idle.splice(i, 1);
      (this.backend as { inactive: number }).inactive = this.#idle.length;
    }
  }

  closeIdle(): void {
    for (const c of this.#idle.splice(0)) c.destroy();
    (this.backend as { inactive: number }).inactive = 0;
  }
}
