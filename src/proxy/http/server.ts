/**
 * The HTTP load balancer: one listener per service listen address, services
 * reconfigured in place on reload (unchanged backends keep their state), and a
 * graceful stop that lets in-flight requests finish.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { ClusterConfig, ListenAddress, ServiceConfig } from '../../config/schema.ts';
import { DeadlineSweeper } from '../../core/deadlines.ts';
import type { Logger } from '../../core/logger.ts';
import { ClientConn, type ListenerContext } from './client.ts';
import { ServiceRuntime, type BackendRuntime, type Outcome } from './service.ts';
import { awaitDrained, boundPortOf, drainListenersOn, HealthRouter, listenOn } from '../shared.ts';
import type { BackendSnapshot } from '../backends.ts';

export type { BackendSnapshot };
import type { LimitsSnapshot } from '../limits/service-limits.ts';

export interface HttpProxyOptions {
  log: Logger;
  /** Directory that relative paths in the config (error pages) are resolved against. */
  baseDir: string;
  /**
   * Where passive outcomes go (failures, and the first success after failures):
   * the health monitor, in this process or the primary's. Called on a microtask, never
   * in the middle of handling a request.
   */
  onOutcome?: (service: string, backend: string, outcome: Outcome) => void;
}

class Listener implements ListenerContext {
  readonly key: string;
  readonly address: ListenAddress;
  readonly server: Server;
  service: ServiceRuntime;
  readonly destination: string;
  readonly log: Logger;
  accessLog: boolean;
  readonly sweeper: DeadlineSweeper;
  readonly connections = new Set<ClientConn>();
  draining = false;
  #onIdle: (() => void) | undefined;

  constructor(address: ListenAddress, service: ServiceRuntime, log: Logger, accessLog: boolean, sweeper: DeadlineSweeper) {
    this.address = address;
    this.key = listenKey(address);
    this.service = service;
    this.destination = this.key;
    this.log = log;
    this.accessLog = accessLog;
    this.sweeper = sweeper;
    this.server = createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 }, this.#onConnection);
    this.server.on('error', (err) => log.error({ listen: this.key, err: err.message }, 'listener error'));
  }

  #onConnection = (socket: Socket): void => {
    if (this.draining) {
      socket.destroy();
      return;
    }
    // The connection registers itself with this listener and the deadline sweeper.
    this.connections.add(new ClientConn(socket, this));
  };

  listen(): Promise<void> {
    return listenOn(this.server, this.address);
  }

  get boundPort(): number {
    return boundPortOf(this.server, this.address);
  }

  connectionClosed(): void {
    if (this.draining && this.connections.size === 0) this.#onIdle?.();
  }

  /** Stops accepting, closes idle keep-alive connections, waits for the rest up to `graceMs`. */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    this.server.close();
    for (const c of this.connections) if (c.idle) c.destroy();
    await awaitDrained(this.connections, graceMs, (idle) => (this.#onIdle = idle));
  }
}

export function listenKey(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export interface ServiceSnapshot {
  name: string;
  listen: string[];
  scheduler: string;
  requests: number;
  panic: boolean;
  quorumLost: boolean;
  backends: BackendSnapshot[];
  /** Per-client limits: the client table and every refusal counted (summed over workers). */
  limits?: LimitsSnapshot;
}

export class HttpProxy extends HealthRouter<BackendRuntime, ServiceRuntime> {
  readonly #log: Logger;
  readonly #baseDir: string;
  readonly #listeners = new Map<string, Listener>();
  readonly #sweeper = new DeadlineSweeper(100);
  #accessLog = true;
  readonly #onOutcome: ((service: string, backend: string, outcome: Outcome) => void) | undefined;

  constructor(opts: HttpProxyOptions) {
    super();
    this.#log = opts.log;
    this.#baseDir = opts.baseDir;
    const cb = opts.onOutcome;
    this.#onOutcome = cb === undefined ? undefined : (service, backend, outcome) => queueMicrotask(() => cb(service, backend, outcome));
  }

  /**
   * Applies the services of a validated config. New listeners are opened first; if
   * one cannot be opened, nothing changes and the error is thrown. Unchanged
   * backends keep their state; removed listeners drain.
   */
  async apply(config: ClusterConfig, services: readonly string[], baseDir = this.#baseDir): Promise<void> {
    const wanted = new Map<string, { name: string; svc: ServiceConfig }>();
    for (const name of services) {
      const svc = config.services[name]!;
      // tcp/udp services run in the layer-4 runtime (src/app/l4.ts).
      if (svc.protocol === 'http') wanted.set(name, { name, svc });
    }
    const pages = new Map<string, Buffer | undefined>();
    for (const [name, { svc }] of wanted) pages.set(name, svc.error_page === undefined ? undefined : await readFile(resolve(baseDir, svc.error_page)));

    // Open new listeners before touching anything, so a failure leaves the old setup running.
    const opened: Listener[] = [];
    const runtimes = new Map<string, ServiceRuntime>();
    for (const [name, { svc }] of wanted) {
      const rt = this.services.get(name) ?? new ServiceRuntime(name, svc, pages.get(name), config.cluster.name);
      rt.onOutcome = this.#onOutcome;
      runtimes.set(name, rt);
      for (const addr of svc.listen) {
        const key = listenKey(addr);
        if (this.#listeners.has(key)) continue;
        // An address that follows a VIP is opened only while this node holds the VIP.
        if (this.#vipHosts.has(addr.host) && !this.#heldVips.has(addr.host)) continue;
        const l = new Listener(addr, rt, this.#log, config.log.access, this.#sweeper);
        try {
          await l.listen();
        } catch (err) {
          for (const o of opened) o.server.close();
          throw new Error(`cannot listen on ${key} for service ${name}: ${(err as Error).message}`, { cause: err });
        }
        opened.push(l);
      }
    }
    this.#accessLog = config.log.access;
    for (const [name, { svc }] of wanted) {
      const rt = runtimes.get(name)!;
      if (this.services.has(name)) {
        const removed = rt.apply(svc, pages.get(name));
        for (const b of removed) b.pool.closeIdle();
      }
      this.services.set(name, rt);
    }
    for (const l of opened) this.#listeners.set(l.key, l);
    // Rebind listeners to their (possibly new) services; drain the ones no longer wanted.
    const keep = new Set<string>();
    for (const [name, { svc }] of wanted) {
      for (const addr of svc.listen) {
        const key = listenKey(addr);
        const l = this.#listeners.get(key);
        if (l === undefined) continue; // waiting for its VIP
        keep.add(key);
        l.service = runtimes.get(name)!;
        l.accessLog = this.#accessLog;
      }
    }
    const drains: Promise<void>[] = [];
    for (const [key, l] of this.#listeners) {
      if (!keep.has(key)) {
        this.#listeners.delete(key);
        drains.push(l.drain(30_000));
      }
    }
    for (const [name, rt] of this.services) {
      if (!wanted.has(name)) {
        this.services.delete(name);
        rt.close();
      }
    }
    void Promise.all(drains);
    this.#config = config;
    this.#serviceNames = [...services];
  }

  #vipHosts = new Set<string>();
  readonly #heldVips = new Set<string>();
  #config: ClusterConfig | undefined;
  #serviceNames: string[] = [];

  /**
   * Addresses that are VIPs of a VRRP instance this node takes part in: services
   * listening on them open their listeners only while this node holds the VIP
   * (VRRP MASTER), and close them when it leaves (a simulated VIP on loopback works
   * the same way). Call before the first `apply`.
   */
  setVipHosts(hosts: Iterable<string>): void {
    this.#vipHosts = new Set(hosts);
  }

  /**
   * Opens a listener on a VIP just taken. With a simulated VIP (VRRP over UDP on one
   * host) the previous master may still hold the socket for a moment, until it hears
   * our advert: retry while we hold the VIP, for up to 5 s.
   */
  async #listenWhileHeld(addr: ListenAddress, rt: ServiceRuntime, config: ClusterConfig): Promise<Listener | undefined> {
    const key = listenKey(addr);
    const until = performance.now() + 5_000;
    for (let delay = 20; ; delay = Math.min(delay * 2, 200)) {
      const l = new Listener(addr, rt, this.#log, config.log.access, this.#sweeper);
      try {
        await l.listen();
        return l;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EADDRINUSE' || performance.now() > until || !this.#heldVips.has(addr.host)) {
          this.#log.error({ listen: key, service: rt.name, err: (err as Error).message }, `cannot listen on ${key} for service ${rt.name} after taking the VIP`);
          return undefined;
        }
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /** This node now holds (or no longer holds) these VIPs: open or drain the listeners on them. */
  async setVipsHeld(hosts: readonly string[], held: boolean): Promise<void> {
    for (const h of hosts) {
      if (held) this.#heldVips.add(h);
      else this.#heldVips.delete(h);
    }
    if (held) {
      const config = this.#config;
      if (config === undefined) return;
      for (const name of this.#serviceNames) {
        const rt = this.services.get(name);
        if (rt === undefined) continue;
        for (const addr of rt.config.listen) {
          const key = listenKey(addr);
          if (!hosts.includes(addr.host) || this.#listeners.has(key)) continue;
          const l = await this.#listenWhileHeld(addr, rt, config);
          if (l === undefined) continue;
          this.#listeners.set(key, l);
          this.#log.info({ listen: key, service: name }, `listening on ${key} (VIP held)`);
        }
      }
      return;
    }
    await drainListenersOn(this.#listeners, hosts);
  }

  /** The port a listener got (useful with port 0 in tests). */
  boundPort(service: string, index = 0): number {
    const svc = this.services.get(service);
    if (!svc) throw new Error(`no service ${service}`);
    const a = svc.config.listen[index]!;
    return this.#listeners.get(listenKey(a))?.boundPort ?? a.port;
  }

  service(name: string): ServiceRuntime | undefined {
    return this.services.get(name);
  }

  snapshot(): ServiceSnapshot[] {
    return [...this.services.values()].map((s) => ({
      name: s.name,
      listen: s.config.listen.map(listenKey),
      scheduler: s.config.scheduler.name,
      requests: s.requests,
      panic: s.panic,
      quorumLost: s.quorumLost,
      limits: s.limits.snapshot(),
      backends: [...s.primaries, ...s.backups].map((b) => b.snapshot(b.requests)),
    }));
  }

  /** Stops accepting and lets in-flight requests finish (up to `graceMs`). */
  async close(graceMs = 10_000): Promise<void> {
    const all = [...this.#listeners.values()];
    this.#listeners.clear();
    await Promise.all(all.map((l) => l.drain(graceMs)));
    for (const s of this.services.values()) s.close();
    this.services.clear();
    this.#sweeper.close();
  }
}

export function configBaseDir(file: string): string {
  return dirname(resolve(file));
}
