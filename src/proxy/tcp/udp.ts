/**
 * A `protocol: udp` listener: each client address:port is a flow with its own
 * upstream socket, connected to the backend chosen for the flow's first datagram
 * (so the kernel filters replies to that backend, and ICMP errors reach us). Replies
 * go back to the client from the service's own socket, i.e. from the service
 * address. Flows end after `idle_timeout` without a datagram either way; the table
 * holds at most `max_flows` (least recently used evicted, counted).
 */
import { createSocket, type RemoteInfo, type Socket as DgramSocket } from 'node:dgram';
import { isIP } from 'node:net';
import type { ListenAddress, UdpServiceConfig } from '../../config/schema.ts';
import { type Clock, systemClock } from '../../core/clock.ts';
import type { Logger } from '../../core/logger.ts';
import { FlowTable, type FlowEnd } from './flows.ts';
import { unmapV4 } from './proxy-protocol.ts';
import type { L4Backend, L4Service, L4User } from './service.ts';
import { listenKey } from './tcp.ts';

/** Datagrams held per flow while its upstream socket connects. */
const MAX_PENDING = 64;

class Flow implements L4User {
  last = 0;
  readonly key: string;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly backend: L4Backend;
  readonly socket: DgramSocket;
  readonly #listener: UdpListener;
  pending: Buffer[] | null = [];
  ended = false;

  constructor(key: string, rinfo: RemoteInfo, backend: L4Backend, listener: UdpListener) {
    this.key = key;
    this.clientAddress = rinfo.address;
    this.clientPort = rinfo.port;
    this.backend = backend;
    this.#listener = listener;
    const v6 = isIP(backend.host) === 6;
    this.socket = createSocket({ type: v6 ? 'udp6' : 'udp4' });
    this.socket.on('message', this.#onReply);
    this.socket.on('error', this.#onError);
    this.socket.connect(backend.port, backend.host, this.#onConnect);
  }

  #onConnect = (): void => {
    const p = this.pending;
    this.pending = null;
    if (this.ended || p === null) return;
    for (const d of p) this.send(d);
  };

  send(d: Buffer): void {
    if (this.pending !== null) {
      if (this.pending.length < MAX_PENDING) this.pending.push(d);
      return;
    }
    this.socket.send(d, this.#onSent);
  }

  #onSent = (err: Error | null): void => {
    if (err) this.#onError(err);
  };

  #onReply = (msg: Buffer): void => {
    this.last = this.#listener.now();
    this.#listener.reply(msg, this);
  };

  #onError = (err: Error): void => {
    // ECONNREFUSED: an ICMP port unreachable from the backend.
    if (this.ended) return;
    this.#listener.flowFailed(this, err);
  };

  /** Cut by `on_down: shutdown-sessions`. */
  destroy(): void {
    this.#listener.flows.delete(this.key);
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.backend.inactive--;
    this.backend.users.delete(this);
    this.socket.close();
  }
}

export class UdpListener {
  readonly key: string;
  readonly address: ListenAddress;
  readonly socket: DgramSocket;
  service: L4Service;
  readonly log: Logger;
  readonly flows: FlowTable<Flow>;
  readonly #clock: Clock;
  #sweepTimer: NodeJS.Timeout | undefined;
  /** Datagrams dropped: no backend, or the flow's queue was full. */
  dropped = 0;

  constructor(address: ListenAddress, service: L4Service, log: Logger, clock: Clock = systemClock) {
    this.address = address;
    this.key = `udp ${listenKey(address)}`;
    this.service = service;
    this.log = log;
    this.#clock = clock;
    const cfg = service.config as UdpServiceConfig;
    this.flows = new FlowTable<Flow>(cfg.max_flows, cfg.idle_timeout, this.#onFlowEnd);
    this.socket = createSocket({ type: isIP(address.host) === 6 ? 'udp6' : 'udp4', reuseAddr: false });
    this.socket.on('message', this.#onMessage);
    this.socket.on('error', (err) => log.error({ listen: this.key, err: err.message }, 'udp listener error'));
  }

  now(): number {
    return this.#clock.now();
  }

  /** The service's config changed (reload): the new idle timeout and table size apply to every flow. */
  reconfigure(service: L4Service): void {
    this.service = service;
    const cfg = service.config as UdpServiceConfig;
    this.flows.ttl = cfg.idle_timeout;
    this.flows.max = cfg.max_flows; // a smaller table evicts at the next new flow
    this.#schedule();
  }

  #onFlowEnd = (f: Flow, why: FlowEnd): void => {
    f.close();
    if (why === 'evicted') this.log.debug({ service: this.service.name, client: `${f.clientAddress}:${f.clientPort}` }, 'udp flow evicted: the flow table is full');
  };

  #onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    const now = this.#clock.now();
    const key = `${rinfo.address} ${rinfo.port}`;
    let f = this.flows.get(key, now);
    if (f === undefined) {
      const svc = this.service;
      const b = svc.pick(unmapV4(rinfo.address), rinfo.port, this.key, []);
      if (b === undefined) {
        svc.noBackend++;
        this.dropped++;
        return;
      }
      f = new Flow(key, rinfo, b, this);
      b.inactive++;
      b.connections++;
      b.users.add(f);
      svc.connections++;
      this.flows.add(key, f, now);
    }
    f.send(msg);
  };

  reply(msg: Buffer, f: Flow): void {
    this.socket.send(msg, f.clientPort, f.clientAddress);
  }

  flowFailed(f: Flow, err: Error): void {
    const code = (err as NodeJS.ErrnoException).code ?? err.message;
    this.service.report(f.backend, 'error');
    this.log.warn({ service: this.service.name, backend: f.backend.id, err: code }, `${this.service.name}: udp flow to ${f.backend.id} failed (${code})`);
    this.flows.delete(f.key);
  }

  #schedule(): void {
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    const every = Math.max(100, Math.min(this.flows.ttl / 4, 5_000));
    this.#sweepTimer = setInterval(() => this.flows.sweep(this.#clock.now()), every);
    this.#sweepTimer.unref();
  }

  listen(): Promise<void> {
    return new Promise((resolveListen, reject) => {
      const onError = (err: Error) => reject(err);
      this.socket.once('error', onError);
      this.socket.bind({ address: this.address.host, port: this.address.port, exclusive: true }, () => {
        this.socket.off('error', onError);
        this.#schedule();
        resolveListen();
      });
    });
  }

  get boundPort(): number {
    try {
      return this.socket.address().port;
    } catch {
      return this.address.port;
    }
  }

  get connections(): { size: number } {
    return this.flows;
  }

  /** UDP has nothing to finish: stop receiving and end every flow. */
  drain(): Promise<void> {
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    this.flows.clear();
    return new Promise((done) => {
      try {
        this.socket.close(() => done());
      } catch {
        done();
      }
    });
  }
}
