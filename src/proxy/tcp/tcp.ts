/**
 * A `protocol: tcp` listener: accept, (optionally) read a PROXY header from a
 * trusted front, choose a backend, connect (retrying the next backend on failure
 * or timeout, before any byte was sent), then pipe both ways with back-pressure.
 *
 * Half-close: a FIN from one side is passed on (`end()`) and the other direction
 * stays open until it ends too, or stays idle for `half_close_timeout`. A connection
 * with nothing moving either way for `idle_timeout` is closed. Every socket error
 * ends just this connection, never the daemon.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { BlockList } from 'node:net';
import { LogSampler } from '../../core/log-sampler.ts';
import { awaitDrained, boundPortOf, listenOn } from '../shared.ts';
import type { ListenAddress, TcpServiceConfig } from '../../config/schema.ts';
import type { Logger } from '../../core/logger.ts';
import { encodeV1, encodeV2, parseProxyHeader, unmapV4 } from './proxy-protocol.ts';
import type { L4Backend, L4Service, L4User } from './service.ts';

export function listenKey(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** What a connection needs from its listener. */
export interface TcpListenerContext {
  service: L4Service;
  readonly log: Logger;
  /** Warnings about single connections, sampled: a dead backend under load or a scan must not flood the log. */
  readonly sampler: LogSampler;
  /** Trusted fronts for `accept_proxy_protocol`; undefined = none. */
  trusted: BlockList | undefined;
  connectionClosed(c: TcpConn): void;
}

const enum_phase = { header: 0, connecting: 1, piping: 2, closed: 3 } as const;
type Phase = (typeof enum_phase)[keyof typeof enum_phase];

export class TcpConn implements L4User {
  readonly #ctx: TcpListenerContext;
  readonly client: Socket;
  #upstream: Socket | null = null;
  #backend: L4Backend | null = null;
  #phase: Phase = enum_phase.connecting;
  #tried: L4Backend[] = [];
  #pending: Buffer | null = null;
  #header: Buffer | null = null;
  #timer: NodeJS.Timeout | null = null;
  #clientEnded = false;
  #upstreamEnded = false;
  #halfClosed = false;
  #started = 0;
  clientAddress: string;
  clientPort: number;
  /** Where the client connected: our socket's address, or the destination a trusted front's PROXY header gave. */
  localAddress: string;
  localPort: number;

  constructor(socket: Socket, ctx: TcpListenerContext) {
    this.#ctx = ctx;
    this.client = socket;
    this.clientAddress = unmapV4(socket.remoteAddress ?? '');
    this.clientPort = socket.remotePort ?? 0;
    this.localAddress = unmapV4(socket.localAddress ?? '');
    this.localPort = socket.localPort ?? 0;
    socket.setNoDelay(true);
    socket.on('error', this.#onClientError);
    socket.on('close', this.#onClientClose);
    const trusted = ctx.trusted;
    const cfg = ctx.service.config as TcpServiceConfig;
    if (trusted !== undefined && trusted.check(this.clientAddress, this.clientAddress.includes(':') ? 'ipv6' : 'ipv4')) {
      this.#phase = enum_phase.header;
      this.#timer = setTimeout(() => this.#fail(`no PROXY header within ${cfg.proxy_protocol_timeout} ms`), cfg.proxy_protocol_timeout);
      socket.on('data', this.#onHeaderData);
      socket.resume();
    } else {
      this.#connectNext();
    }
  }

  #fail(why: string): void {
    const left = this.#ctx.sampler.take('closed', performance.now());
    if (left >= 0) this.#ctx.log.warn({ service: this.#ctx.service.name, client: `${this.clientAddress}:${this.clientPort}`, suppressed: left }, `${this.#ctx.service.name}: connection closed: ${why}${left > 0 ? ` (${left} more since the last line)` : ''}`);
    this.destroy();
  }

  #onHeaderData = (chunk: Buffer): void => {
    const buf = this.#header === null ? chunk : Buffer.concat([this.#header, chunk]);
    const r = parseProxyHeader(buf);
    if (r.kind === 'incomplete') {
      this.#header = buf;
      return;
    }
    if (r.kind === 'error') {
      this.#fail(`bad PROXY header from trusted front ${this.clientAddress}: ${r.reason}`);
      return;
    }
    this.client.off('data', this.#onHeaderData);
    this.client.pause();
    this.#header = null;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const h = r.header;
    if (h.command === 'proxy' && h.source !== undefined) {
      this.clientAddress = unmapV4(h.source.address);
      this.clientPort = h.source.port;
      if (h.destination !== undefined) {
        this.localAddress = unmapV4(h.destination.address);
        this.localPort = h.destination.port;
      }
    }
    if (r.length < buf.length) this.#pending = buf.subarray(r.length);
    this.#phase = enum_phase.connecting;
    this.#connectNext();
  };

  #connectNext(): void {
    const svc = this.#ctx.service;
    const cfg = svc.config as TcpServiceConfig;
    const tries = cfg.connect_tries === 0 ? Math.max(1, svc.byId.size + (svc.sorry === undefined ? 0 : 1)) : cfg.connect_tries;
    if (this.#tried.length >= tries) {
      this.#fail(`no backend answered after ${this.#tried.length} attempt(s)`);
      return;
    }
    const b = svc.pick(this.clientAddress, this.clientPort, `${this.localAddress}:${this.localPort}`, this.#tried);
    if (b === undefined) {
      if (this.#tried.length === 0) svc.noBackend++;
      this.#fail(this.#tried.length === 0 ? 'no backend available' : `no other backend to try after ${this.#tried.length} attempt(s)`);
      return;
    }
    this.#backend = b;
    b.active++;
    b.users.add(this);
    this.#started = performance.now();
    // Backend → client is the heavy direction (downloads): read it into one reused buffer
    // (Node's `onread`) instead of a fresh 64 KiB Buffer per read, which cost ~20 % of the
    // CPU in garbage collection.
    const up = connect({ host: b.host, port: b.port, allowHalfOpen: true, noDelay: true, onread: { buffer: this.#readBuffer, callback: this.#onUpstreamRead } });
    this.#upstream = up;
    up.setTimeout(cfg.connect_timeout);
    up.on('timeout', this.#onConnectTimeout);
    up.on('error', this.#onConnectError);
    up.once('connect', this.#onConnect);
  }

  #onConnectTimeout = (): void => this.#connectFailed('timeout');
  #onConnectError = (): void => this.#connectFailed('error');

  #connectFailed(kind: 'timeout' | 'error'): void {
    const up = this.#upstream!;
    const b = this.#backend!;
    up.off('timeout', this.#onConnectTimeout);
    up.off('error', this.#onConnectError);
    up.off('connect', this.#onConnect);
    up.on('error', noop);
    up.destroy();
    this.#upstream = null;
    this.#backend = null;
    b.active--;
    b.users.delete(this);
    const svc = this.#ctx.service;
    svc.report(b, kind);
    this.#tried.push(b);
    const left = this.#ctx.sampler.take(`connect ${b.id} ${kind}`, performance.now());
    if (left >= 0) this.#ctx.log.warn({ service: svc.name, backend: b.id, failure: kind, suppressed: left }, `${svc.name}: connect to ${b.id} failed (${kind}); trying the next backend${left > 0 ? ` (${left} more since the last line)` : ''}`);
    if (this.#phase === enum_phase.closed) return;
    this.#connectNext();
  }

  #onConnect = (): void => {
    const up = this.#upstream!;
    const b = this.#backend!;
    const svc = this.#ctx.service;
    const cfg = svc.config as TcpServiceConfig;
    up.off('timeout', this.#onConnectTimeout);
    up.off('error', this.#onConnectError);
    up.setTimeout(0);
    if (this.#phase === enum_phase.closed) {
      up.destroy();
      return;
    }
    this.#phase = enum_phase.piping;
    svc.report(b, 'ok');
    svc.observe(b, performance.now() - this.#started, true);
    svc.connections++;
    b.connections++;
    up.on('error', this.#onUpstreamError);
    up.on('close', this.#onUpstreamClose);
    if (cfg.proxy_protocol !== undefined) {
      const src = { address: this.clientAddress, port: this.clientPort };
      const dst = { address: this.localAddress, port: this.localPort };
      up.write(cfg.proxy_protocol === 'v1' ? encodeV1(src, dst) : encodeV2(src, dst));
    }
    if (this.#pending !== null) {
      up.write(this.#pending);
      this.#pending = null;
    }
    const c = this.client;
    c.on('data', this.#onClientData);
    c.on('end', this.#onClientEnd);
    c.on('drain', this.#onClientDrain);
    up.on('end', this.#onUpstreamEnd);
    up.on('drain', this.#onUpstreamDrain);
    c.setTimeout(cfg.idle_timeout);
    c.on('timeout', this.#onIdle);
    // The client's FIN may have come with its PROXY header, before 'end' had a listener.
    if (c.readableEnded) this.#onClientEnd();
    else c.resume();
  };

  // ---- piping, with back-pressure -------------------------------------------
  #onClientData = (d: Buffer): void => {
    if (!this.#upstream!.write(d)) this.client.pause();
  };
  #onUpstreamDrain = (): void => {
    this.client.resume();
  };
  #buf: Buffer | null = null;
  #readBuffer = (): Buffer => (this.#buf ??= takeBuffer());
  /** Returns false to pause the backend until the client drains. */
  #onUpstreamRead = (n: number, buf: Buffer): boolean => {
    if (this.#phase !== enum_phase.piping) return false;
    const c = this.client;
    const ok = c.write(buf.subarray(0, n));
    // Not all written at once: the pending write holds this buffer, read into a new one.
    if (c.writableLength !== 0) this.#buf = null;
    return ok;
  };
  #onClientDrain = (): void => {
    this.#upstream?.resume();
  };

  // ---- half-close ------------------------------------------------------------
  #onClientEnd = (): void => {
    this.#clientEnded = true;
    this.#upstream?.end();
    this.#halfClose();
  };
  #onUpstreamEnd = (): void => {
    this.#upstreamEnded = true;
    this.client.end();
    this.#halfClose();
  };

  #halfClose(): void {
    if (this.#halfClosed) return;
    this.#halfClosed = true;
    const b = this.#backend;
    if (b !== null) {
      b.active--;
      b.inactive++;
    }
    const cfg = this.#ctx.service.config as TcpServiceConfig;
    this.client.setTimeout(Math.min(cfg.idle_timeout, cfg.half_close_timeout));
  }

  #onIdle = (): void => {
    this.#ctx.log.info({ service: this.#ctx.service.name, client: `${this.clientAddress}:${this.clientPort}`, backend: this.#backend?.id }, `${this.#ctx.service.name}: idle connection closed`);
    this.destroy();
  };

  // ---- ending ----------------------------------------------------------------
  #onClientError = (): void => {
    // A reset or other failure of the client ends the whole connection.
    this.destroy();
  };
  #onUpstreamError = (): void => {
    this.destroy();
  };

  #onClientClose = (): void => {
    // Closed in order (both sides ended, all written): the upstream finishes on its own.
    if (!(this.#clientEnded && this.#upstreamEnded)) this.#upstream?.destroy();
    if (this.#upstream === null || this.#upstream.destroyed) this.#finish();
  };
  #onUpstreamClose = (): void => {
    if (!(this.#clientEnded && this.#upstreamEnded)) this.client.destroy();
    if (this.client.destroyed) this.#finish();
  };

  #finished = false;
  #finish(): void {
    if (this.#finished) return;
    if (!this.client.destroyed || (this.#upstream !== null && !this.#upstream.destroyed)) return;
    this.#finished = true;
    this.#phase = enum_phase.closed;
    // Both sockets closed: no write holds the read buffer any more.
    if (this.#buf !== null) {
      giveBuffer(this.#buf);
      this.#buf = null;
    }
    if (this.#timer !== null) clearTimeout(this.#timer);
    const b = this.#backend;
    if (b !== null) {
      if (this.#halfClosed) b.inactive--;
      else b.active--;
      b.users.delete(this);
      this.#backend = null;
    }
    this.#ctx.connectionClosed(this);
  }

  /** Cuts the connection both ways (idle, shutdown-sessions, stop). */
  destroy(): void {
    if (this.#phase === enum_phase.closed) return;
    const connecting = this.#phase === enum_phase.connecting || this.#phase === enum_phase.header;
    this.#phase = enum_phase.closed;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const up = this.#upstream;
    if (connecting && up !== null) {
      // Still connecting: give the slot back now.
      up.off('connect', this.#onConnect);
      up.off('error', this.#onConnectError);
      up.off('timeout', this.#onConnectTimeout);
      up.on('error', noop);
      up.destroy();
      this.#upstream = null;
      const b = this.#backend;
      if (b !== null) {
        b.active--;
        b.users.delete(this);
        this.#backend = null;
      }
    }
    this.client.destroy();
    up?.destroy();
    this.#finish();
  }

  /** Piping both ways with nothing in flight: safe to cut at a drain deadline. */
  get established(): boolean {
    return this.#phase === enum_phase.piping;
  }
}

function noop(): void {}

/** Bytes per read from a backend (libuv's default read size). */
const READ_SIZE = 64 * 1024;
/** Read buffers of closed connections, for the next ones (a fresh 64 KiB per connection costs GC time at high connection rates). */
const spare: Buffer[] = [];
const MAX_SPARE = 64;

function takeBuffer(): Buffer {
  return spare.pop() ?? Buffer.allocUnsafe(READ_SIZE);
}

function giveBuffer(b: Buffer): void {
  if (spare.length < MAX_SPARE) spare.push(b);
}

/** One listening address of a tcp service. */
export class TcpListener implements TcpListenerContext {
  readonly key: string;
  readonly address: ListenAddress;
  readonly server: Server;
  service: L4Service;
  readonly log: Logger;
  readonly sampler = new LogSampler(1_000);
  trusted: BlockList | undefined;
  readonly connections = new Set<TcpConn>();
  draining = false;
  #onIdle: (() => void) | undefined;

  constructor(address: ListenAddress, service: L4Service, log: Logger, trusted: BlockList | undefined) {
    this.address = address;
    this.key = listenKey(address);
    this.service = service;
    this.log = log;
    this.trusted = trusted;
    this.server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 }, this.#onConnection);
    this.server.on('error', (err) => log.error({ listen: this.key, err: err.message }, 'listener error'));
  }

  #onConnection = (socket: Socket): void => {
    if (this.draining) {
      socket.destroy();
      return;
    }
    const c = new TcpConn(socket, this);
    if (c.established || !c.client.destroyed) this.connections.add(c);
  };

  connectionClosed(c: TcpConn): void {
    this.connections.delete(c);
    if (this.draining && this.connections.size === 0) this.#onIdle?.();
  }

  listen(): Promise<void> {
    return listenOn(this.server, this.address);
  }

  get boundPort(): number {
    return boundPortOf(this.server, this.address);
  }

  /** Stops accepting; open connections finish, up to `graceMs`, then are cut. */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    this.server.close();
    await awaitDrained(this.connections, graceMs, (idle) => (this.#onIdle = idle));
  }
}
