/**
 * Runtime state of a service and its backends. Backends are keyed by identity
 * (`host:port`) so that a reload keeps the state of unchanged ones: pooled
 * connections, passive failure counts, counters.
 */
import type { Backend, HashKeySource, PickContext, Scheduler } from '../../balancer/index.ts';
import { createScheduler, hashKeyOf, PersistenceTable, StickyCookies, stickySecret, WaitQueue } from '../../balancer/index.ts';
import { hashKeySpec, type HashKeySpec, type PersistenceConfig } from '../../config/scheduler-schema.ts';
import type { BackendConfig, ServiceConfig } from '../../config/schema.ts';
import { now } from '../../core/deadlines.ts';
import { headerValue, type RequestHead } from './parse.ts';
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
  key: string | undefined;
  accept: (b: Backend) => boolean;
}

/** The request a hash key is computed from; one reused object per service. */
class KeySource implements HashKeySource {
  remoteAddr = '';
  requestUri = '';
  head: RequestHead | null = null;
  header(name: string): string | undefined {
    return this.head === null ? undefined : headerValue(this.head, name);
  }
}

function samePersistence(a: PersistenceConfig, b: PersistenceConfig): boolean {
  return a.timeout === b.timeout && a.granularity === b.granularity && a.granularity_v6 === b.granularity_v6 && a.max_entries === b.max_entries;
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
  readonly #keySource = new KeySource();
  #keySpec: HashKeySpec | undefined;
  #persist: PersistenceTable | undefined;
  #sticky: StickyCookies | undefined;
  /** Requests waiting for a slot when every usable backend is at `max_conns`; undefined when no backend has a limit. */
  queue: WaitQueue | undefined;
  readonly #clusterName: string;
  // Counters.
  requests = 0;
  noBackend = 0;

  constructor(name: string, config: ServiceConfig, errorPage: Buffer | undefined, clusterName = 'palisade') {
    this.name = name;
    this.config = config;
    this.errorPage = errorPage;
    this.#clusterName = clusterName;
    this.#ctx = {
      client: '',
      clientPort: 0,
      destination: '',
      key: undefined,
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
    const all = [...primaries, ...backups];
    this.#keySpec = undefined;
    if (config.scheduler.name === 'hash' && config.scheduler.key !== undefined) {
      const r = hashKeySpec(config.scheduler.key);
      if (r.ok) this.#keySpec = r.spec;
    }
    // Persistence entries of unchanged backends survive a reload.
    const pc = config.persistence;
    if (pc === undefined) {
      this.#persist = undefined;
    } else if (this.#persist !== undefined && this.#persistConfig !== undefined && samePersistence(this.#persistConfig, pc)) {
      this.#persist.rebind(all);
    } else {
      const table = new PersistenceTable({ timeout: pc.timeout, granularity: pc.granularity, granularityV6: pc.granularity_v6, maxEntries: pc.max_entries });
      if (this.#persist !== undefined) table.import(this.#persist.export(), all);
      this.#persist = table;
    }
    this.#persistConfig = pc;
    const sc = config.sticky;
    this.#sticky =
      sc === undefined
        ? undefined
        : new StickyCookies(all, {
            cookie: sc.cookie,
            secret: stickySecret(sc.secret, this.#clusterName, this.name),
            expires: sc.expires,
            path: sc.path,
            domain: sc.domain,
            httpOnly: sc.http_only,
            secure: sc.secure,
            sameSite: sc.same_site,
          });
    const limited = all.some((b) => b.maxConns > 0) && config.queue.max_length > 0;
    const q = this.queue;
    if (!limited || q === undefined || q.maxLength !== config.queue.max_length || q.timeout !== config.queue.timeout) {
      this.queue = limited ? new WaitQueue({ maxLength: config.queue.max_length, timeout: config.queue.timeout }) : undefined;
      q?.close();
    }
    return removed;
  }

  #persistConfig: PersistenceConfig | undefined;

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
  pick(client: string, clientPort: number, destination: string, exclude: readonly BackendRuntime[], head: RequestHead): BackendRuntime | undefined {
    const ctx = this.#ctx;
    ctx.client = client;
    ctx.clientPort = clientPort;
    ctx.destination = destination;
    if (this.#keySpec !== undefined) {
      const src = this.#keySource;
      src.remoteAddr = client;
      src.requestUri = head.target;
      src.head = head;
      ctx.key = hashKeyOf(this.#keySpec, src);
      src.head = null;
    }
    this.#exclude = exclude;
    this.#t = now();
    const b = (this.#pickFrom(this.#primarySched, head) ?? this.#pickFrom(this.#backupSched, head)) as BackendRuntime | undefined;
    this.#exclude = [];
    return b;
  }

  #pickFrom(sched: Scheduler, head: RequestHead): Backend | undefined {
    const ctx = this.#ctx as PickContext;
    if (this.#sticky !== undefined) return this.#sticky.pick(ctx, headerValue(head, 'cookie'), sched);
    if (this.#persist !== undefined) return this.#persist.pick(ctx, sched);
    return sched.pick(ctx);
  }

  /** The Set-Cookie header line that sends this client to `b` next time, or '' when its cookie already does. */
  stickyHeader(b: BackendRuntime, head: RequestHead): string {
    const st = this.#sticky;
    if (st === undefined || st.fromCookie(headerValue(head, 'cookie')) === b) return '';
    return `Set-Cookie: ${st.setCookie(b)}\r\n`;
  }

  /** Some backend could take the request but for its `max_conns`: worth queueing. */
  onlyFull(exclude: readonly BackendRuntime[]): boolean {
    const t = now();
    for (const list of [this.primaries, this.backups]) {
      for (const b of list) {
        if (exclude.includes(b) || b.configDown || !b.healthy || b.downUntil > t || b.weight === 0) continue;
        if (b.maxConns !== 0 && b.active >= b.maxConns) return true;
      }
    }
    return false;
  }

  /** Response-time feedback for `least_time` / `ewma`. */
  observe(b: BackendRuntime, ms: number, ok: boolean): void {
    this.#schedFor(b).observe?.(b, ms, ok);
  }

  /** Releases every pooled connection; for shutdown or removal. */
  close(): void {
    for (const b of this.byId.values()) b.pool.closeIdle();
    this.queue?.close();
  }
}
