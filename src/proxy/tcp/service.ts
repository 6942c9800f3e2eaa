/**
 * Runtime state of a layer-4 service (tcp or udp) and its backends: the same
 * schedulers and persistence table as the HTTP proxy (src/balancer), health pushed
 * in as calls, connection counts kept the LVS way (active / inactive). Backends are
 * keyed by identity (`host:port`) so that a reload keeps the state and counters of
 * unchanged ones, and their open connections.
 */
import type { Backend, PickContext, Scheduler } from '../../balancer/index.ts';
import { createScheduler, PersistenceTable } from '../../balancer/index.ts';
import type { PersistenceConfig } from '../../config/scheduler-schema.ts';
import type { BackendConfig, TcpServiceConfig, UdpServiceConfig } from '../../config/schema.ts';
import type { BackendState, PassiveOutcome } from '../../health/index.ts';
import { samePersistence, sorryBackend } from '../shared.ts';

export type L4ServiceConfig = TcpServiceConfig | UdpServiceConfig;

/** Something using a backend that can be cut (`on_down: shutdown-sessions`): a TCP connection or a UDP flow. */
export interface L4User {
  destroy(): void;
}

export class L4Backend implements Backend {
  readonly id: string;
  index: number;
  readonly host: string;
  readonly port: number;
  weight: number;
  /** Effective weight as last pushed; -1 = the configured one. */
  effWeight = -1;
  maxConns: number;
  /** TCP: connections connecting or established both ways (LVS ActiveConn). */
  active = 0;
  /** TCP: connections half-closed (one FIN seen); UDP: flows (LVS InActConn, as ipvsadm shows UDP). */
  inactive = 0;
  name: string;
  backup: boolean;
  configDown: boolean;
  state: BackendState = 'up';
  failStreak = 0;
  /** Open connections / flows; cut on down with `on_down: shutdown-sessions`. */
  readonly users = new Set<L4User>();
  /** Connections (tcp) or flows (udp) it was given. */
  connections = 0;
  /** Failed connection attempts. */
  failures = 0;

  constructor(cfg: BackendConfig, index: number) {
    this.id = cfg.id;
    this.host = cfg.host;
    this.port = cfg.port;
    this.index = index;
    this.weight = cfg.weight;
    this.maxConns = cfg.max_conns;
    this.name = cfg.name;
    this.backup = cfg.backup;
    this.configDown = cfg.down;
  }

  reconfigure(cfg: BackendConfig, index: number): void {
    this.index = index;
    if (cfg.weight !== this.weight) this.effWeight = -1;
    this.weight = cfg.weight;
    this.maxConns = cfg.max_conns;
    this.name = cfg.name;
    this.backup = cfg.backup;
    this.configDown = cfg.down;
  }

  /** Can take a new connection: config, state, `max_conns` (active + inactive, as LVS's upper threshold). */
  usable(panic: boolean): boolean {
    return !this.configDown && (this.state === 'up' || (panic && this.state === 'down')) && (this.maxConns === 0 || this.active + this.inactive < this.maxConns);
  }

  status(): BackendState | 'full' {
    if (this.configDown) return 'down';
    if (this.state !== 'up') return this.state;
    if (this.maxConns !== 0 && this.active + this.inactive >= this.maxConns) return 'full';
    return 'up';
  }
}

interface MutablePickContext {
  client: string;
  clientPort: number;
  destination: string;
  accept: (b: Backend) => boolean;
}

export class L4Service {
  readonly name: string;
  config: L4ServiceConfig;
  primaries: L4Backend[] = [];
  backups: L4Backend[] = [];
  byId = new Map<string, L4Backend>();
  #primary!: Scheduler;
  #backup!: Scheduler;
  #exclude: readonly L4Backend[] = [];
  panic = false;
  quorumLost = false;
  sorry: L4Backend | undefined;
  #persist: PersistenceTable | undefined;
  #persistConfig: PersistenceConfig | undefined;
  readonly #ctx: MutablePickContext;
  /** Where passive outcomes go (the health monitor). */
  onOutcome: ((service: string, backend: string, outcome: PassiveOutcome) => void) | undefined;
  // Counters.
  connections = 0;
  noBackend = 0;

  constructor(name: string, config: L4ServiceConfig) {
    this.name = name;
    this.config = config;
    this.#ctx = {
      client: '',
      clientPort: 0,
      destination: '',
      accept: (b) => (b as L4Backend).usable(this.panic) && !this.#exclude.includes(b as L4Backend),
    };
    this.apply(config);
  }

  /** Applies a (re)loaded config; unchanged backends (by id) keep state, counters and connections. Returns the removed ones. */
  apply(config: L4ServiceConfig): L4Backend[] {
    this.config = config;
    const next = new Map<string, L4Backend>();
    const primaries: L4Backend[] = [];
    const backups: L4Backend[] = [];
    config.backends.forEach((bc, i) => {
      let b = this.byId.get(bc.id);
      if (b) b.reconfigure(bc, i);
      else b = new L4Backend(bc, i);
      next.set(b.id, b);
      (bc.backup ? backups : primaries).push(b);
    });
    const removed = [...this.byId.values()].filter((b) => !next.has(b.id));
    this.byId = next;
    this.primaries = primaries;
    this.backups = backups;
    this.#primary = createScheduler(config.scheduler, primaries);
    this.#backup = createScheduler(config.scheduler, backups);
    for (const b of next.values()) {
      if (b.state !== 'up' && !(this.panic && b.state === 'down')) this.#schedFor(b).down(b);
      if (b.effWeight >= 0 && b.effWeight !== b.weight) this.#schedFor(b).weight(b, b.effWeight);
    }
    if (config.sorry_server === undefined) this.sorry = undefined;
    else {
      const s = sorryBackend(config.sorry_server);
      if (this.sorry?.id !== s.id) this.sorry = new L4Backend(s, -1);
    }
    // Persistence entries of unchanged backends survive a reload (as in the HTTP proxy).
    const all = [...primaries, ...backups];
    const pc = config.persistence;
    if (pc === undefined) this.#persist = undefined;
    else if (this.#persist !== undefined && this.#persistConfig !== undefined && samePersistence(this.#persistConfig, pc)) this.#persist.rebind(all);
    else {
      const table = new PersistenceTable({ timeout: pc.timeout, granularity: pc.granularity, granularityV6: pc.granularity_v6, maxEntries: pc.max_entries });
      if (this.#persist !== undefined) table.import(this.#persist.export(), all);
      this.#persist = table;
    }
    this.#persistConfig = pc;
    return removed;
  }

  #schedFor(b: L4Backend): Scheduler {
    return b.backup ? this.#backup : this.#primary;
  }

  backend(id: string): L4Backend | undefined {
    return this.byId.get(id) ?? (this.sorry?.id === id ? this.sorry : undefined);
  }

  /** A health flip, passive ejection or operator action. Down/maint cut open connections with `on_down: shutdown-sessions`. */
  setState(b: L4Backend, state: BackendState): void {
    if (b.state === state) return;
    b.state = state;
    const sched = this.#schedFor(b);
    if (state === 'up' || (this.panic && state === 'down')) sched.up(b);
    else sched.down(b);
    if (state === 'drain' || state === 'maint') this.#persist?.forget(b);
    if ((state === 'down' || state === 'maint') && this.config.on_down === 'shutdown-sessions') {
      for (const u of b.users) u.destroy(); // each leaves the set as it ends (deleting while iterating a Set is safe)
    }
  }

  setWeight(b: L4Backend, weight: number): void {
    b.effWeight = weight;
    this.#schedFor(b).weight(b, weight);
  }

  setPanic(panic: boolean): void {
    if (this.panic === panic) return;
    this.panic = panic;
    for (const b of this.byId.values()) {
      if (b.state !== 'down') continue;
      if (panic) this.#schedFor(b).up(b);
      else this.#schedFor(b).down(b);
    }
  }

  /** One connection attempt's outcome, for passive detection; a success only after failures. */
  report(b: L4Backend, outcome: PassiveOutcome): void {
    if (outcome !== 'ok') {
      b.failStreak++;
      b.failures++;
    } else {
      if (b.failStreak === 0) return;
      b.failStreak = 0;
    }
    const cb = this.onOutcome;
    if (cb !== undefined) queueMicrotask(() => cb(this.name, b.id, outcome));
  }

  /** A backend for a new connection or flow: primaries, then backups; the sorry server while the quorum is lost. */
  pick(client: string, clientPort: number, destination: string, exclude: readonly L4Backend[]): L4Backend | undefined {
    if (this.quorumLost) {
      const s = this.sorry;
      return s !== undefined && !exclude.includes(s) && s.usable(false) ? s : undefined;
    }
    const ctx = this.#ctx;
    ctx.client = client;
    ctx.clientPort = clientPort;
    ctx.destination = destination;
    this.#exclude = exclude;
    const b = (this.#pickFrom(this.#primary) ?? this.#pickFrom(this.#backup)) as L4Backend | undefined;
    this.#exclude = [];
    return b;
  }

  #pickFrom(sched: Scheduler): Backend | undefined {
    const ctx = this.#ctx as PickContext;
    if (this.#persist !== undefined) return this.#persist.pick(ctx, sched);
    return sched.pick(ctx);
  }

  /** Backends that could be tried at all (for the number of connect tries). */
  get usableCount(): number {
    let n = 0;
    for (const b of this.byId.values()) if (b.usable(this.panic)) n++;
    return n;
  }

  /** Feedback for response-time schedulers. */
  observe(b: L4Backend, ms: number, ok: boolean): void {
    this.#schedFor(b).observe?.(b, ms, ok);
  }
}
