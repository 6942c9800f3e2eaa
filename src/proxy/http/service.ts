/**
 * Runtime state of a service and its backends. Backends are keyed by identity
 * (`host:port`) so that a reload keeps the state of unchanged ones: pooled
 * connections, passive failure counts, counters.
 */
import type { Backend, HashKeySource, PickContext, Scheduler } from '../../balancer/index.ts';
import { hashKeyOf, StickyCookies, stickySecret, WaitQueue } from '../../balancer/index.ts';
import { hashKeySpec, type HashKeySpec } from '../../config/scheduler-schema.ts';
import type { BackendConfig, ServiceConfig } from '../../config/schema.ts';
import { splitHostPort } from '../../config/schema.ts';
import type { BackendState, PassiveOutcome } from '../../health/index.ts';
import { headerValue, type RequestHead } from './parse.ts';
import { ServiceLimits } from '../limits/service-limits.ts';
import { RedisBuckets } from '../limits/redis-buckets.ts';
import { UpstreamPool } from './upstream.ts';
import { BackendCore, ServiceCore } from '../backends.ts';

/** A backend's state as health checks, passive detection and operators set it (the health module's). */
export type { BackendState };

/** What a proxy learned about one attempt, for passive detection: 'ok', a failure kind, or an HTTP status. */
export type Outcome = PassiveOutcome;

/** Something using a backend connection that can be cut (on_down: shutdown-sessions). */
export interface BackendUser {
  destroy(): void;
}

export class BackendRuntime extends BackendCore {
  /** Requests and tunnels using it, tracked only with `on_down: shutdown-sessions`. */
  users: Set<BackendUser> | null = null;
  readonly pool: UpstreamPool;
  // Counters, for status and metrics.
  requests = 0;

  constructor(cfg: BackendConfig, index: number, svc: ServiceConfig) {
    super(cfg, index);
    this.pool = new UpstreamPool(this, svc);
    this.#track(svc);
  }

  reconfigure(cfg: BackendConfig, index: number, svc: ServiceConfig): void {
    this.reconfigureCore(cfg, index);
    this.pool.reconfigure(svc);
    this.#track(svc);
  }

  #track(svc: ServiceConfig): void {
    if (svc.on_down === 'shutdown-sessions') this.users ??= new Set();
    else this.users = null;
  }

  /** Can take a new request (config, state, max_conns); in panic mode `down` ones too. */
  usable(panic: boolean): boolean {
    return !this.configDown && (this.state === 'up' || (panic && this.state === 'down')) && (this.maxConns === 0 || this.active < this.maxConns);
  }

  status(): BackendState | 'full' {
    if (this.configDown) return 'down';
    if (this.state !== 'up') return this.state;
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

export class ServiceRuntime extends ServiceCore<BackendRuntime> {
  config: ServiceConfig;
  /** Error page body for 502/503/504, or undefined for the built-in one. */
  errorPage: Buffer | undefined;
  /** Backends excluded from the pick in progress (already tried). */
  #exclude: readonly BackendRuntime[] = [];
  /** Where passive outcomes go (the health monitor, possibly in another process). */
  onOutcome: ((service: string, backend: string, outcome: Outcome) => void) | undefined;
  readonly #ctx: MutablePickContext;
  readonly #keySource = new KeySource();
  #keySpec: HashKeySpec | undefined;
  #sticky: StickyCookies | undefined;
  /** Requests waiting for a slot when every usable backend is at `max_conns`; undefined when no backend has a limit. */
  queue: WaitQueue | undefined;
  readonly #clusterName: string;
  // Counters.
  requests = 0;
  noBackend = 0;
  /** Per-client limits (limit_conn, limit_req, limit_rate, allow / deny), kept across reloads. */
  readonly limits: ServiceLimits;

  constructor(name: string, config: ServiceConfig, errorPage: Buffer | undefined, clusterName = 'palisade') {
    super(name);
    this.config = config;
    this.limits = new ServiceLimits(config.limits);
    this.limits.setService(name);
    this.errorPage = errorPage;
    this.#clusterName = clusterName;
    this.#ctx = {
      client: '',
      clientPort: 0,
      destination: '',
      key: undefined,
      accept: (b) => (b as BackendRuntime).usable(this.panic) && !this.#exclude.includes(b as BackendRuntime),
    };
    this.apply(config, errorPage);
  }

  /** Applies a (re)loaded config, keeping the runtime state of backends whose id is unchanged. */
  apply(config: ServiceConfig, errorPage: Buffer | undefined): BackendRuntime[] {
    this.config = config;
    this.errorPage = errorPage;
    this.limits.reconfigure(config.limits);
    this.#applyShared(config);
    const removed = this.applyBackends(config);
    const all = [...this.primaries, ...this.backups];
    this.#keySpec = undefined;
    if (config.scheduler.name === 'hash' && config.scheduler.key !== undefined) {
      const r = hashKeySpec(config.scheduler.key);
      if (r.ok) this.#keySpec = r.spec;
    }
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

  protected newBackend(cfg: BackendConfig, index: number): BackendRuntime {
    return new BackendRuntime(cfg, index, this.config);
  }

  protected reconfigureBackend(b: BackendRuntime, cfg: BackendConfig, index: number): void {
    b.reconfigure(cfg, index, this.config);
  }

  protected cutSessions(b: BackendRuntime): void {
    if (b.users === null) return;
    for (const u of b.users) u.destroy(); // each leaves the set when its socket has closed
  }

  /** Reports one attempt's outcome; a success only after failures, so the hot path stays quiet. */
  report(b: BackendRuntime, outcome: Outcome): void {
    const failed = outcome !== 'ok' && (typeof outcome !== 'number' || outcome >= 500);
    if (failed) {
      b.failStreak++;
      b.failures++;
    } else {
      if (b.failStreak === 0) return;
      b.failStreak = 0;
    }
    this.onOutcome?.(this.name, b.id, outcome);
  }

  /**
   * Chooses a backend for a request: primaries first, backups only when no primary
   * is usable (nginx `backup`). `exclude` holds backends already tried for it.
   */
  pick(client: string, clientPort: number, destination: string, exclude: readonly BackendRuntime[], head: RequestHead): BackendRuntime | undefined {
    if (this.quorumLost) return this.sorryFor(exclude);
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
    const b = (this.#pickFrom(this.primarySched, head) ?? this.#pickFrom(this.backupSched, head)) as BackendRuntime | undefined;
    this.#exclude = [];
    return b;
  }

  #pickFrom(sched: Scheduler, head: RequestHead): Backend | undefined {
    const ctx = this.#ctx as PickContext;
    if (this.#sticky !== undefined) return this.#sticky.pick(ctx, headerValue(head, 'cookie'), sched);
    if (this.persist !== undefined) return this.persist.pick(ctx, sched);
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
    if (this.quorumLost) return false;
    for (const list of [this.primaries, this.backups]) {
      for (const b of list) {
        if (exclude.includes(b) || b.configDown || (b.state !== 'up' && !(this.panic && b.state === 'down')) || b.weight === 0) continue;
        if (b.maxConns !== 0 && b.active >= b.maxConns) return true;
      }
    }
    return false;
  }

  /** Response-time feedback for `least_time` / `ewma`. */
  observe(b: BackendRuntime, ms: number, ok: boolean): void {
    this.schedFor(b).observe?.(b, ms, ok);
  }

  #redisAddress = '';

  /** store: redis with limit_req: one connection to Redis per service and worker, replaced when its address changes. */
  #applyShared(config: ServiceConfig): void {
    const lc = config.limits;
    const want = lc.store === 'redis' && lc.limit_req !== undefined ? lc.redis.address : '';
    if (want !== this.#redisAddress) {
      this.limits.shared?.close();
      this.limits.shared = null;
      this.#redisAddress = want;
      if (want !== '') {
        const hp = splitHostPort(want)!;
        this.limits.shared = new RedisBuckets({ host: hp.host, port: hp.port! });
      }
    }
  }

  /** Releases every pooled connection; for shutdown or removal. */
  close(): void {
    this.limits.shared?.close();
    this.limits.shared = null;
    this.#redisAddress = '';
    for (const b of this.byId.values()) b.pool.closeIdle();
    this.sorry?.pool.closeIdle();
    this.queue?.close();
  }
}
