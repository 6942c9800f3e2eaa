/**
 * Runtime state of a service and its backends. Backends are keyed by identity
 * (`host:port`) so that a reload keeps the state of unchanged ones: pooled
 * connections, passive failure counts, counters.
 */
import type { Backend, PickContext, Scheduler } from '../../balancer/index.ts';
import { createScheduler } from '../../balancer/index.ts';
import type { BackendConfig, ServiceConfig } from '../../config/schema.ts';
import { now } from '../../core/deadlines.ts';
import { UpstreamPool } from './upstream.ts';

export class BackendRuntime implements Backend {
  readonly id: string;
  index: number;
  readonly host: string;
  readonly port: number;
  weight: number;
  maxConns: number;
  active = 0;
  inactive = 0;
  name: string;
  backup: boolean;
  /** Marked `down: true` in the cluster file. */
  configDown: boolean;
  maxFails: number;
  failTimeout: number;
  /** Passive failures counted in the current window (nginx max_fails). */
  fails = 0;
  failWindowStart = 0;
  /** Unavailable until this time (ms, monotonic) after max_fails was reached. */
  downUntil = 0;
  /** Health as pushed by checks (true until a check says otherwise). */
  healthy = true;
  readonly pool: UpstreamPool;
  // Counters, for status and metrics.
  requests = 0;
  failures = 0;
  bytesIn = 0;
  bytesOut = 0;

  constructor(cfg: BackendConfig, index: number, svc: ServiceConfig) {
    this.id = cfg.id;
    this.host = cfg.host;
    this.port = cfg.port;
    this.index = index;
    this.weight = cfg.weight;
    this.maxConns = cfg.max_conns;
    this.name = cfg.name;
    this.backup = cfg.backup;
    this.configDown = cfg.down;
    this.maxFails = cfg.max_fails ?? svc.passive.max_fails;
    this.failTimeout = cfg.fail_timeout ?? svc.passive.fail_timeout;
    this.pool = new UpstreamPool(this, svc);
  }

  reconfigure(cfg: BackendConfig, index: number, svc: ServiceConfig): void {
    this.index = index;
    this.weight = cfg.weight;
    this.maxConns = cfg.max_conns;
    this.name = cfg.name;
    this.backup = cfg.backup;
    this.configDown = cfg.down;
    this.maxFails = cfg.max_fails ?? svc.passive.max_fails;
    this.failTimeout = cfg.fail_timeout ?? svc.passive.fail_timeout;
    this.pool.reconfigure(svc);
  }

  /** Can take a new request now (config, health, passive marking, max_conns). */
  usable(t: number): boolean {
    return !this.configDown && this.healthy && this.downUntil <= t && (this.maxConns === 0 || this.active < this.maxConns);
  }

  /** nginx semantics: `max_fails` failures within `fail_timeout` make it unavailable for `fail_timeout`. */
  recordFailure(t: number): boolean {
    this.failures++;
    if (this.maxFails === 0) return false;
    if (t - this.failWindowStart > this.failTimeout) {
      this.fails = 0;
      this.failWindowStart = t;
    }
    this.fails++;
    if (this.fails >= this.maxFails) {
      this.downUntil = t + this.failTimeout;
      this.fails = 0;
      this.failWindowStart = t;
      return true;
    }
    return false;
  }

  recordSuccess(): void {
    if (this.fails !== 0) this.fails = 0;
  }

  status(t: number): 'up' | 'down' | 'failed' | 'full' {
    if (this.configDown || !this.healthy) return 'down';
    if (this.downUntil > t) return 'failed';
    if (this.maxConns !== 0 && this.active >= this.maxConns) return 'full';
    return 'up';
  }
}

/** A mutable PickContext reused for every pick of a service (picks are synchronous). */
interface MutablePickContext {
  client: string;
  clientPort: number;
  destination: string;
  key?: string;
  accept: (b: Backend) => boolean;
}

export class ServiceRuntime {
  readonly name: string;
  config: ServiceConfig;
  primaries: BackendRuntime[] = [];
  backups: BackendRuntime[] = [];
  byId = new Map<string, BackendRuntime>();
  #primarySched!: Scheduler;
  #backupSched!: Scheduler;
  /** Error page body for 502/503/504, or undefined for the built-in one. */
  errorPage: Buffer | undefined;
  /** Backends excluded from the pick in progress (already tried). */
  #exclude: readonly BackendRuntime[] = [];
  #t = 0;
  readonly #ctx: MutablePickContext;
  // Counters.
  requests = 0;
  noBackend = 0;

  constructor(name: string, config: ServiceConfig, errorPage: Buffer | undefined) {
    this.name = name;
    this.config = config;
    this.errorPage = errorPage;
    this.#ctx = {
      client: '',
      clientPort: 0,
      destination: '',
      accept: (b) => (b as BackendRuntime).usable(this.#t) && !this.#exclude.includes(b as BackendRuntime),
    };
    this.apply(config, errorPage);
  }

  /** Applies a (re)loaded config, keeping the runtime state of backends whose id is unchanged. */
  apply(config: ServiceConfig, errorPage: Buffer | undefined): BackendRuntime[] {
    this.config = config;
    this.errorPage = errorPage;
    const next = new Map<string, BackendRuntime>();
    const primaries: BackendRuntime[] = [];
    const backups: BackendRuntime[] = [];
    config.backends.forEach((bc, i) => {
      let b = this.byId.get(bc.id);
      if (b) b.reconfigure(bc, i, config);
      else b = new BackendRuntime(bc, i, config);
      next.set(b.id, b);
      (bc.backup ? backups : primaries).push(b);
    });
    const removed = [...this.byId.values()].filter((b) => !next.has(b.id));
    this.byId = next;
    this.primaries = primaries;
    this.backups = backups;
    this.#primarySched = createScheduler(config.scheduler, primaries);
    this.#backupSched = createScheduler(config.scheduler, backups);
    for (const b of next.values()) if (!b.healthy) this.#schedFor(b).down(b);
    return removed;
  }

  #schedFor(b: BackendRuntime): Scheduler {
    return b.backup ? this.#backupSched : this.#primarySched;
  }

  /** Health flip pushed by checks. */
  setHealthy(b: BackendRuntime, healthy: boolean): void {
    if (b.healthy === healthy) return;
    b.healthy = healthy;
    if (healthy) this.#schedFor(b).up(b);
    else this.#schedFor(b).down(b);
  }

  /**
   * Chooses a backend for a request: primaries first, backups only when no primary
   * is usable (nginx `backup`). `exclude` holds backends already tried for it.
   */
  pick(client: string, clientPort: number, destination: string, exclude: readonly BackendRuntime[]): BackendRuntime | undefined {
    const ctx = this.#ctx;
    ctx.client = client;
    ctx.clientPort = clientPort;
    ctx.destination = destination;
    this.#exclude = exclude;
    this.#t = now();
    const b = (this.#primarySched.pick(ctx as PickContext) ?? this.#backupSched.pick(ctx as PickContext)) as BackendRuntime | undefined;
    this.#exclude = [];
    return b;
  }

  /** Releases every pooled connection; for shutdown or removal. */
  close(): void {
    for (const b of this.byId.values()) b.pool.closeIdle();
  }
}
