/**
 * The backend set of a service, shared by the HTTP proxy and the layer-4 proxy:
 * backends keyed by identity (`host:port`) so that a reload keeps the state and
 * counters of unchanged ones; primaries and backups with a scheduler each; health,
 * weight and panic pushed in as calls; the sorry server; the persistence table kept
 * across reloads when its settings did not change.
 *
 * What differs stays in the subclasses: what a backend carries (an HTTP connection
 * pool, LVS-style connection counts), what `max_conns` counts, how open sessions are
 * cut, and how a pick is made.
 */
import type { Backend, Scheduler } from '../balancer/index.ts';
import { createScheduler, PersistenceTable } from '../balancer/index.ts';
import type { PersistenceConfig, SchedulerConfig } from '../config/scheduler-schema.ts';
import type { BackendConfig } from '../config/schema.ts';
import type { BackendState } from '../health/index.ts';
import { samePersistence, sorryBackend } from './shared.ts';

export interface BackendSnapshot {
  id: string;
  name: string;
  backup: boolean;
  /** Configured weight. */
  weight: number;
  /** Weight in effect now (slow start, agent or exec weight). */
  effectiveWeight: number;
  status: string;
  /** Last health check result and why the backend is in its state, when health checks run. */
  check?: { type: string; last?: string; since: number };
  active: number;
  inactive: number;
  requests: number;
  failures: number;
}

/**
 * A backend of a kernel service (mode nat / dr) in `palisade status`: the same
 * columns, but `active` and `inactive` are null when this node cannot know them —
 * mode dr (stateless: the director never sees the replies), a mode nat service whose
 * VIP another director holds, or a conntrack table that could not be read.
 */
export type KernelBackendSnapshot = Omit<BackendSnapshot, 'active' | 'inactive'> & {
  /** ESTABLISHED connections in conntrack (LVS ActiveConn); null = unknown. */
  active: number | null;
  /** Other TCP states and UDP flows (LVS InActConn); null = unknown. */
  inactive: number | null;
  /** Bytes of the nft counter. */
  bytes: number;
};

export abstract class BackendCore implements Backend {
  readonly id: string;
  index: number;
  readonly host: string;
  readonly port: number;
  /** Configured weight. */
  weight: number;
  /** Effective weight as last pushed (slow start, agent or exec weight); -1 = the configured one. */
  effWeight = -1;
  maxConns: number;
  active = 0;
  inactive = 0;
  name: string;
  backup: boolean;
  /** Marked `down: true` in the cluster file. */
  configDown: boolean;
  /** Pushed by health checks, passive detection and operators. */
  state: BackendState = 'up';
  /** Consecutive failed attempts seen by this process (successes are reported only after failures). */
  failStreak = 0;
  /** Failed attempts, for status and metrics. */
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

  /** Takes a reloaded config; runtime state (health, counters, connections) stays. */
  protected reconfigureCore(cfg: BackendConfig, index: number): void {
    this.index = index;
    if (cfg.weight !== this.weight) this.effWeight = -1;
    this.weight = cfg.weight;
    this.maxConns = cfg.max_conns;
    this.name = cfg.name;
    this.backup = cfg.backup;
    this.configDown = cfg.down;
  }

  /** Can take new work: config, state, `max_conns`; in panic mode `down` ones too. */
  abstract usable(panic: boolean): boolean;

  /** The state shown: `down` for `down: true`, `full` at `max_conns`, else the pushed state. */
  abstract status(): BackendState | 'full';

  /** What status, /metrics and the dashboard show; `requests`: requests (HTTP) or connections / flows (layer 4). */
  snapshot(requests: number): BackendSnapshot {
    return {
      id: this.id,
      name: this.name,
      backup: this.backup,
      weight: this.weight,
      effectiveWeight: this.effWeight < 0 ? this.weight : this.effWeight,
      status: this.status(),
      active: this.active,
      inactive: this.inactive,
      requests,
      failures: this.failures,
    };
  }
}

/** What the backend set reads of a service's config. */
export interface BackendSetConfig {
  backends: readonly BackendConfig[];
  scheduler: SchedulerConfig;
  sorry_server?: string | undefined;
  persistence?: PersistenceConfig | undefined;
}

export abstract class ServiceCore<B extends BackendCore> {
  readonly name: string;
  primaries: B[] = [];
  backups: B[] = [];
  byId = new Map<string, B>();
  protected primarySched!: Scheduler;
  protected backupSched!: Scheduler;
  /** Panic mode (passive.panic_threshold): health is ignored, traffic spreads over every non-drained backend. */
  panic = false;
  /** The service's quorum is lost: new work goes to the sorry server, or is refused. */
  quorumLost = false;
  /** `sorry_server` as a backend of its own. */
  sorry: B | undefined;
  protected persist: PersistenceTable | undefined;
  #persistConfig: PersistenceConfig | undefined;

  constructor(name: string) {
    this.name = name;
  }

  protected abstract newBackend(cfg: BackendConfig, index: number): B;
  protected abstract reconfigureBackend(b: B, cfg: BackendConfig, index: number): void;
  /** `on_down: shutdown-sessions`: cut what uses `b` (it went down or into maintenance). */
  protected abstract cutSessions(b: B): void;

  /**
   * Applies a (re)loaded backend list: unchanged backends (by id) keep state,
   * counters, connections and persistence entries; the new schedulers learn the
   * runtime state (health, panic, effective weights). Returns the removed backends.
   */
  protected applyBackends(config: BackendSetConfig): B[] {
    const next = new Map<string, B>();
    const primaries: B[] = [];
    const backups: B[] = [];
    config.backends.forEach((bc, i) => {
      let b = this.byId.get(bc.id);
      if (b) this.reconfigureBackend(b, bc, i);
      else b = this.newBackend(bc, i);
      next.set(b.id, b);
      (bc.backup ? backups : primaries).push(b);
    });
    const removed = [...this.byId.values()].filter((b) => !next.has(b.id));
    this.byId = next;
    this.primaries = primaries;
    this.backups = backups;
    this.primarySched = createScheduler(config.scheduler, primaries);
    this.backupSched = createScheduler(config.scheduler, backups);
    for (const b of next.values()) {
      if (b.state !== 'up' && !(this.panic && b.state === 'down')) this.schedFor(b).down(b);
      if (b.effWeight >= 0 && b.effWeight !== b.weight) this.schedFor(b).weight(b, b.effWeight);
    }
    if (config.sorry_server === undefined) this.sorry = undefined;
    else {
      const s = sorryBackend(config.sorry_server);
      if (this.sorry?.id !== s.id) this.sorry = this.newBackend(s, -1);
    }
    const all = [...primaries, ...backups];
    const pc = config.persistence;
    if (pc === undefined) this.persist = undefined;
    else if (this.persist !== undefined && this.#persistConfig !== undefined && samePersistence(this.#persistConfig, pc)) this.persist.rebind(all);
    else {
      const table = new PersistenceTable({ timeout: pc.timeout, granularity: pc.granularity, granularityV6: pc.granularity_v6, maxEntries: pc.max_entries });
      if (this.persist !== undefined) table.import(this.persist.export(), all);
      this.persist = table;
    }
    this.#persistConfig = pc;
    return removed;
  }

  /** While the quorum is lost: the sorry server, when it is usable and was not tried yet. */
  protected sorryFor(exclude: readonly B[]): B | undefined {
    const s = this.sorry;
    return s !== undefined && !exclude.includes(s) && s.usable(false) ? s : undefined;
  }

  protected schedFor(b: B): Scheduler {
    return b.backup ? this.backupSched : this.primarySched;
  }

  /** A backend of this service (or its sorry server) by id. */
  backend(id: string): B | undefined {
    return this.byId.get(id) ?? (this.sorry?.id === id ? this.sorry : undefined);
  }

  /** A health flip, passive ejection or operator action. */
  setState(b: B, state: BackendState): void {
    if (b.state === state) return;
    b.state = state;
    const sched = this.schedFor(b);
    if (state === 'up' || (this.panic && state === 'down')) sched.up(b);
    else sched.down(b);
    // Drained and maintained backends get no new persistence entries, and lose old ones.
    if (state === 'drain' || state === 'maint') this.persist?.forget(b);
    if (state === 'down' || state === 'maint') this.cutSessions(b);
  }

  /** Effective weight pushed by health (slow start, agent / exec weight). */
  setWeight(b: B, weight: number): void {
    b.effWeight = weight;
    this.schedFor(b).weight(b, weight);
  }

  /** Panic mode: while on, backends that are merely down take traffic again. */
  setPanic(panic: boolean): void {
    if (this.panic === panic) return;
    this.panic = panic;
    for (const b of this.byId.values()) {
      if (b.state !== 'down') continue;
      if (panic) this.schedFor(b).up(b);
      else this.schedFor(b).down(b);
    }
  }
}
