/**
 * The layer-4 load balancer (the LVS job in user space): tcp and udp services,
 * their listeners, reload in place (unchanged backends keep state, counters and
 * open connections; removed listeners drain) and a graceful stop.
 */
import type { BlockList } from 'node:net';
import { cidrList } from '../../config/l4-schema.ts';
import type { ClusterConfig, ListenAddress } from '../../config/schema.ts';
import type { Logger } from '../../core/logger.ts';
import type { PassiveOutcome } from '../../health/index.ts';
import { L4Service, type L4Backend, type L4ServiceConfig } from './service.ts';
import { drainListenersOn, HealthRouter } from '../shared.ts';
import type { BackendSnapshot, KernelBackendSnapshot } from '../backends.ts';
import { listenKey, TcpListener } from './tcp.ts';
import { UdpListener } from './udp.ts';

export interface L4ProxyOptions {
  log: Logger;
  /** Passive outcomes (connect failures, and the first success after failures), for the health monitor. */
  onOutcome?: (service: string, backend: string, outcome: PassiveOutcome) => void;
}

/** A service as `palisade status` shows it (the HTTP proxy's shape; `requests` counts connections or flows). */
export interface L4ServiceSnapshot {
  name: string;
  protocol: 'tcp' | 'udp';
  listen: string[];
  scheduler: string;
  requests: number;
  panic: boolean;
  quorumLost: boolean;
  /** UDP: flows now, evicted (table full) and expired since start. */
  flows?: { open: number; evicted: number; expired: number };
  /** Kernel services (mode nat / dr) only: `active` = in the ruleset now (the VIP held here). */
  kernel?: {
    mode: 'nat' | 'dr';
    active: boolean;
    /** What a backend's `requests` counts: new connections (nat) or packets from clients (dr). */
    counts: 'connections' | 'packets';
    /** Why the backends' `active` / `inactive` are null, when they are. */
    connectionsUnknown?: string;
  };
  /** `requests`: connections (tcp) or flows (udp) given to the backend; `check` filled in by the daemon. */
  backends: Array<BackendSnapshot | KernelBackendSnapshot>;
}

type Listener = TcpListener | UdpListener;

function keyOf(protocol: 'tcp' | 'udp', a: ListenAddress): string {
  return protocol === 'udp' ? `udp ${listenKey(a)}` : listenKey(a);
}

export class L4Proxy extends HealthRouter<L4Backend, L4Service> {
  readonly #log: Logger;
  readonly #onOutcome: L4ProxyOptions['onOutcome'];
  readonly #listeners = new Map<string, Listener>();
  readonly #trusted = new Map<string, BlockList | undefined>();
  #vipHosts = new Set<string>();
  readonly #heldVips = new Set<string>();

  constructor(opts: L4ProxyOptions) {
    super();
    this.#log = opts.log;
    this.#onOutcome = opts.onOutcome;
  }

  /** Addresses that follow a VIP: listeners on them open only while this node holds it. Call before `apply`. */
  setVipHosts(hosts: Iterable<string>): void {
    this.#vipHosts = new Set(hosts);
  }

  #newListener(svc: L4Service, addr: ListenAddress): Listener {
    return svc.config.protocol === 'udp' ? new UdpListener(addr, svc, this.#log) : new TcpListener(addr, svc, this.#log, this.#trusted.get(svc.name));
  }

  /**
   * Applies the tcp/udp services among `services` (http ones are skipped). New
   * listeners open first; if one cannot, nothing changes and the error is thrown.
   */
  async apply(config: ClusterConfig, services: readonly string[]): Promise<void> {
    const wanted = new Map<string, L4ServiceConfig>();
    for (const name of services) {
      const svc = config.services[name];
      if (svc !== undefined && svc.protocol !== 'http') wanted.set(name, svc);
    }
    const runtimes = new Map<string, L4Service>();
    const opened: Listener[] = [];
    for (const [name, cfg] of wanted) {
      const existing = this.services.get(name);
      // A service that changed protocol is a new service.
      const rt = existing !== undefined && existing.config.protocol === cfg.protocol ? existing : new L4Service(name, cfg);
      rt.onOutcome = this.#onOutcome;
      runtimes.set(name, rt);
      this.#trusted.set(name, cfg.protocol === 'tcp' && cfg.accept_proxy_protocol !== undefined ? cidrList(cfg.accept_proxy_protocol) : undefined);
      for (const addr of cfg.listen) {
        const key = keyOf(cfg.protocol, addr);
        if (this.#listeners.has(key) || opened.some((l) => l.key === key)) continue;
        if (this.#vipHosts.has(addr.host) && !this.#heldVips.has(addr.host)) continue;
        const l = this.#newListener(rt, addr);
        try {
          await l.listen();
        } catch (err) {
          for (const o of opened) void o.drain(0);
          throw new Error(`cannot listen on ${cfg.protocol} ${listenKey(addr)} for service ${name}: ${(err as Error).message}`, { cause: err });
        }
        opened.push(l);
      }
    }
    for (const [name, cfg] of wanted) {
      const rt = runtimes.get(name)!;
      if (this.services.get(name) === rt) rt.apply(cfg); // removed backends' connections finish on their own
      this.services.set(name, rt);
    }
    for (const l of opened) this.#listeners.set(l.key, l);
    const keep = new Set<string>();
    for (const [name, cfg] of wanted) {
      const rt = runtimes.get(name)!;
      for (const addr of cfg.listen) {
        const key = keyOf(cfg.protocol, addr);
        const l = this.#listeners.get(key);
        if (l === undefined) continue;
        keep.add(key);
        if (l instanceof UdpListener) l.reconfigure(rt);
        else {
          l.service = rt;
          l.trusted = this.#trusted.get(name);
        }
      }
    }
    for (const [key, l] of this.#listeners) {
      if (!keep.has(key)) {
        this.#listeners.delete(key);
        void l.drain(30_000);
      }
    }
    for (const name of this.services.keys()) if (!wanted.has(name)) this.services.delete(name);
  }

  /** This node now holds (or no longer holds) these VIPs: open or drain the listeners on them. */
  async setVipsHeld(hosts: readonly string[], held: boolean): Promise<void> {
    for (const h of hosts) {
      if (held) this.#heldVips.add(h);
      else this.#heldVips.delete(h);
    }
    if (held) {
      for (const rt of this.services.values()) {
        for (const addr of rt.config.listen) {
          const key = keyOf(rt.config.protocol, addr);
          if (!hosts.includes(addr.host) || this.#listeners.has(key)) continue;
          const l = this.#newListener(rt, addr);
          try {
            await l.listen();
            this.#listeners.set(key, l);
            this.#log.info({ listen: key, service: rt.name }, `listening on ${key} (VIP held)`);
          } catch (err) {
            this.#log.error({ listen: key, service: rt.name, err: (err as Error).message }, `cannot listen on ${key} for service ${rt.name} after taking the VIP`);
          }
        }
      }
      return;
    }
    await drainListenersOn(this.#listeners, hosts);
  }

  service(name: string): L4Service | undefined {
    return this.services.get(name);
  }

  /** The port a listener got (port 0 in tests). */
  boundPort(service: string, index = 0): number {
    const svc = this.services.get(service);
    if (!svc) throw new Error(`no service ${service}`);
    const a = svc.config.listen[index]!;
    return this.#listeners.get(keyOf(svc.config.protocol, a))?.boundPort ?? a.port;
  }

  snapshot(): L4ServiceSnapshot[] {
    return [...this.services.values()].map((s) => {
      const proto = s.config.protocol;
      const udp = proto === 'udp' ? s.config.listen.map((a) => this.#listeners.get(keyOf('udp', a))).filter((l): l is UdpListener => l instanceof UdpListener) : [];
      return {
        name: s.name,
        protocol: proto,
        listen: s.config.listen.map((a) => `${proto} ${listenKey(a)}`),
        scheduler: s.config.scheduler.name,
        requests: s.connections,
        panic: s.panic,
        quorumLost: s.quorumLost,
        ...(proto === 'udp'
          ? { flows: { open: udp.reduce((n, l) => n + l.flows.size, 0), evicted: udp.reduce((n, l) => n + l.flows.evicted, 0), expired: udp.reduce((n, l) => n + l.flows.expired, 0) } }
          : {}),
        backends: [...s.primaries, ...s.backups].map((b) => b.snapshot(b.connections)),
      };
    });
  }

  /** Stops accepting; open TCP connections finish within `graceMs`, then are cut; UDP flows end. */
  async close(graceMs = 10_000): Promise<void> {
    const all = [...this.#listeners.values()];
    this.#listeners.clear();
    await Promise.all(all.map((l) => l.drain(graceMs)));
    this.services.clear();
  }
}
