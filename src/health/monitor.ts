/**
 * HealthMonitor: the edge that runs checks on timers and pushes state changes.
 *
 * It owns the backends of a set of services, runs each backend's check with a
 * jittered interval (unref'd timers) and a timeout (AbortSignal), feeds the pure
 * tracker, and calls the listener on a flip — never polled. Passive outcomes
 * (`report`), operator admin states (`setAdmin`), slow start, quorum and panic go
 * through the same state, so that one listener sees one consistent story.
 *
 * Reload (`update`) keeps everything of a backend whose identity is unchanged; a
 * backend whose check changed keeps its current health as the new check's start,
 * its operator state and its passive ejection: a reload never flaps.
 */
import type { OutlierConfig } from '../config/health-schema.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import { createCheck } from './checks.ts';
import { isPanic, OutlierDetector, type PassiveOutcome } from './outlier.ts';
import { quorumStep } from './quorum.ts';
import { checkIdentity, checkTargetOf, type HealthTarget, type ServiceHealthSpec } from './targets.ts';
import { firstDelay, jitteredDelay, type Random } from './timing.ts';
import { effectiveState, initialTracker, nextInterval, trackAdmin, trackEjection, trackResult, type LastResult, type Step, type TrackerOptions, type TrackerState } from './tracker.ts';
import type { AdminState, BackendState, Check, CheckResult, CheckTarget, FlipEvent, PanicEvent, QuorumEvent, WeightEvent } from './types.ts';
import { describeResult } from './types.ts';
import { dynamicWeight, effectiveWeight } from './weight.ts';

/** Where the monitor pushes changes. Every method is optional. */
export interface HealthListener {
  /** A backend's state changed. Apply weight changes (`onWeight`) as they come; they precede an up flip. */
  onFlip?(e: FlipEvent): void;
  /** A backend's effective weight changed (slow start, agent or exec weight, configured weight on reload). */
  onWeight?(e: WeightEvent): void;
  /** A service's quorum was gained or lost; also once for each new service with quorum tracking. */
  onQuorum?(e: QuorumEvent): void;
  /** A service entered or left panic mode. */
  onPanic?(e: PanicEvent): void;
  /** Every check result, for metrics or debug logs (flips come through `onFlip`). */
  onResult?(service: string, backend: string, result: CheckResult): void;
}

export interface HealthMonitorOptions extends HealthListener {
  /** Clock for timestamps and slow start; default the monotonic system clock. */
  clock?: Clock;
  /** Random source for jitter; default Math.random. */
  random?: Random;
  /** Flips, quorum and panic changes are logged here (one line each); default none. */
  logger?: Logger;
  /** Builds the check of a configuration; default `createCheck` (tests inject fakes). */
  createCheck?: typeof createCheck;
}

/** A backend as `snapshot()` shows it. */
export interface BackendSnapshot {
  readonly backend: string;
  readonly state: BackendState;
  /** What the checks say after rise/fall (operator states are shown apart). */
  readonly health: 'up' | 'down';
  readonly admin?: 'drain' | 'maint';
  readonly agent?: 'drain' | 'maint';
  readonly ejected?: { readonly reason: string; readonly until: number };
  /** Effective weight now and the configured one. */
  readonly weight: number;
  readonly configuredWeight: number;
  /** Check type, or undefined without active checks. */
  readonly check?: string;
  /** Consecutive results against the current health (toward rise or fall). */
  readonly streak: number;
  /** Clock time of the last state change, ms. */
  readonly since: number;
  readonly last?: { readonly ok: boolean; readonly status: string; readonly detail?: string; readonly durationMs: number; readonly at: number };
}

export interface ServiceSnapshot {
  readonly service: string;
  readonly panic: boolean;
  readonly quorum?: { readonly up: boolean; readonly sum: number; readonly quorum: number };
  readonly backends: readonly BackendSnapshot[];
}

export interface HealthSnapshot {
  /** Clock time of the snapshot, ms. */
  readonly at: number;
  readonly services: readonly ServiceSnapshot[];
}

/** What `update` changed, for the caller to set up new backends in its scheduler. */
export interface UpdateResult {
  /** New backends with their starting state and weight (`start: down` ones begin down). */
  readonly added: ReadonlyArray<{ readonly service: string; readonly backend: string; readonly state: BackendState; readonly weight: number }>;
  readonly removed: ReadonlyArray<{ readonly service: string; readonly backend: string }>;
}

/** One run loop of one check; replaced as a whole when the check changes. */
interface Runner {
  readonly check: Check;
  readonly identity: string;
  stopped: boolean;
  timer: NodeJS.Timeout | undefined;
  /** When the pending timer fires (performance.now()), to shorten it on reload. */
  dueAt: number;
  inflight: { ctl: AbortController; done: Promise<void> } | undefined;
}

interface BackendRt {
  readonly service: string;
  readonly id: string;
  target: HealthTarget;
  checkTarget: CheckTarget;
  identity: string;
  options: TrackerOptions;
  tracker: TrackerState;
  runner: Runner | undefined;
  /** Last effective weight pushed (or reported by `update`). */
  weight: number;
  slowTimer: NodeJS.Timeout | undefined;
}

interface ServiceRt {
  spec: ServiceHealthSpec;
  readonly backends: Map<string, BackendRt>;
  outlier: OutlierDetector | undefined;
  outlierTimer: NodeJS.Timeout | undefined;
  quorumUp: boolean | undefined;
  quorumSum: number;
  panic: boolean;
}

const SLOW_START_MIN_STEP_MS = 100;

function trackerOptions(t: HealthTarget): TrackerOptions {
  if (!t.check) return { rise: 1, fall: 1, interval: 0, fast: 0, down: 0 };
  const c = t.check;
  return { rise: c.rise, fall: c.fall, interval: c.interval, fast: c.fast_interval ?? c.interval, down: c.down_interval ?? c.interval };
}

export class HealthMonitor {
  readonly #services = new Map<string, ServiceRt>();
  readonly #listener: HealthListener;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #logger: Logger | undefined;
  readonly #createCheck: typeof createCheck;
  #closed = false;

  constructor(opts: HealthMonitorOptions = {}) {
    this.#listener = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#random = opts.random ?? Math.random;
    this.#logger = opts.logger;
    this.#createCheck = opts.createCheck ?? createCheck;
  }

  /**
   * Sets the services and backends to watch (first start and every reload). Services
   * and backends not listed are stopped and forgotten. Backends whose identity
   * (service, backend id, what the check probes) is unchanged keep all their state.
   */
  update(specs: readonly ServiceHealthSpec[]): UpdateResult {
    if (this.#closed) throw new Error('HealthMonitor is closed');
    const now = this.#clock.now();
    const added: Array<{ service: string; backend: string; state: BackendState; weight: number }> = [];
    const removed: Array<{ service: string; backend: string }> = [];
    const listed = new Set(specs.map((s) => s.name));
    for (const [name, svc] of this.#services) {
      if (listed.has(name)) continue;
      for (const b of svc.backends.values()) {
        this.#stopBackend(b);
        removed.push({ service: name, backend: b.id });
      }
      if (svc.outlierTimer) clearTimeout(svc.outlierTimer);
      this.#services.delete(name);
    }

    for (const spec of specs) {
      let svc = this.#services.get(spec.name);
      if (!svc) {
        svc = { spec, backends: new Map(), outlier: undefined, outlierTimer: undefined, quorumUp: undefined, quorumSum: 0, panic: false };
        this.#services.set(spec.name, svc);
      }
      svc.spec = spec;
      const keep = new Set(spec.targets.map((t) => t.backend));
      for (const b of svc.backends.values()) {
        if (keep.has(b.id)) continue;
        this.#stopBackend(b);
        svc.backends.delete(b.id);
        removed.push({ service: spec.name, backend: b.id });
      }

      for (const t of spec.targets) {
        const identity = checkIdentity(t.check);
        const b = svc.backends.get(t.backend);
        if (!b) {
          const tracker = initialTracker(t.check?.start ?? 'up', now);
          const nb: BackendRt = {
            service: spec.name,
            id: t.backend,
            target: t,
            checkTarget: checkTargetOf(t),
            identity,
            options: trackerOptions(t),
            tracker,
            runner: undefined,
            weight: effectiveWeight(t.weight, undefined, 0, undefined, now),
            slowTimer: undefined,
          };
          svc.backends.set(t.backend, nb);
          added.push({ service: spec.name, backend: t.backend, state: effectiveState(tracker), weight: nb.weight });
          continue;
        }
        b.target = t;
        b.checkTarget = checkTargetOf(t);
        b.options = trackerOptions(t);
        if (b.identity !== identity) {
          // What is probed changed: a new check, starting from the current health so
          // that nothing flips until the new check has an opinion.
          this.#stopRunner(b);
          b.identity = identity;
          const fresh = initialTracker(t.check ? b.tracker.health : 'up', now);
          const next: TrackerState = { ...fresh, admin: b.tracker.admin, ejected: b.tracker.ejected, since: b.tracker.since, upSince: b.tracker.upSince };
          const from = effectiveState(b.tracker);
          b.tracker = next;
          const to = effectiveState(next);
          if (from !== to) this.#emitFlip(svc, b, { from, to, source: 'check', reason: t.check ? 'check replaced' : 'check removed' }, now);
        } else if (b.runner?.timer && t.check) {
          // Same check, maybe a shorter interval now: do not wait out the old one.
          const next = nextInterval(b.tracker, b.options);
          if (b.runner.dueAt - performance.now() > next) {
            clearTimeout(b.runner.timer);
            b.runner.timer = undefined;
            this.#schedule(b, b.runner, jitteredDelay(next, t.check.jitter, this.#random));
          }
        }
        this.#pushWeight(b, now);
      }

      this.#syncOutlier(svc, spec.passive, now);
      this.#evaluateService(svc, now);
    }

    for (const svc of this.#services.values()) {
      for (const b of svc.backends.values()) if (b.target.check && !b.runner) this.#startRunner(b);
    }
    return { added, removed };
  }

  /**
   * Operator state of a backend: `drain` / `maint` override checks until `up` clears
   * them. With `service` undefined it applies to the backend in every service.
   * Returns how many backends it applied to.
   */
  setAdmin(backend: string, admin: AdminState, service?: string): number {
    let n = 0;
    const now = this.#clock.now();
    for (const svc of this.#services.values()) {
      if (service !== undefined && svc.spec.name !== service) continue;
      const b = svc.backends.get(backend);
      if (!b) continue;
      n++;
      this.#apply(svc, b, trackAdmin(b.tracker, admin, now), now);
    }
    return n;
  }

  /** Feeds the outcome of one real request to `backend` of `service` (passive detection). */
  report(service: string, backend: string, outcome: PassiveOutcome): void {
    const svc = this.#services.get(service);
    const b = svc?.backends.get(backend);
    if (!svc || !b || !svc.outlier) return;
    const now = this.#clock.now();
    const change = svc.outlier.report(backend, outcome, now);
    if (!change) return;
    this.#apply(svc, b, trackEjection(b.tracker, change.reason, now), now);
    this.#armOutlierTimer(svc);
  }

  state(service: string, backend: string): BackendState | undefined {
    const b = this.#services.get(service)?.backends.get(backend);
    return b ? effectiveState(b.tracker) : undefined;
  }

  /** Effective weight now: configured × dynamic × slow start. */
  weight(service: string, backend: string): number | undefined {
    const b = this.#services.get(service)?.backends.get(backend);
    return b ? this.#weightOf(b, this.#clock.now()) : undefined;
  }

  /** True while the service is in panic mode: spread traffic over all its non-drained, non-maintenance backends. */
  panic(service: string): boolean {
    return this.#services.get(service)?.panic ?? false;
  }

  snapshot(): HealthSnapshot {
    const now = this.#clock.now();
    const services: ServiceSnapshot[] = [];
    for (const svc of this.#services.values()) {
      const backends: BackendSnapshot[] = [];
      for (const b of svc.backends.values()) {
        const t = b.tracker;
        const ej = svc.outlier?.ejection(b.id);
        backends.push({
          backend: b.id,
          state: effectiveState(t),
          health: t.health,
          ...(t.admin && { admin: t.admin }),
          ...(t.agent && { agent: t.agent }),
          ...(ej && t.ejected !== undefined && { ejected: { reason: ej.reason, until: ej.until } }),
          weight: this.#weightOf(b, now),
          configuredWeight: b.target.weight,
          ...(b.target.check && { check: b.target.check.type }),
          streak: t.streak,
          since: t.since,
          ...(t.last && { last: lastOf(t.last) }),
        });
      }
      const q = svc.spec.quorum;
      services.push({
        service: svc.spec.name,
        panic: svc.panic,
        ...(q && svc.quorumUp !== undefined && { quorum: { up: svc.quorumUp, sum: svc.quorumSum, quorum: q.quorum } }),
        backends,
      });
    }
    return { at: now, services };
  }

  /** Stops every timer and in-flight check; resolves when the checks have settled. */
  async close(): Promise<void> {
    this.#closed = true;
    const pending: Array<Promise<void>> = [];
    for (const svc of this.#services.values()) {
      if (svc.outlierTimer) clearTimeout(svc.outlierTimer);
      for (const b of svc.backends.values()) {
        if (b.runner?.inflight) pending.push(b.runner.inflight.done);
        this.#stopBackend(b);
      }
    }
    await Promise.all(pending);
  }

  // -------------------------------------------------------------------------

  #startRunner(b: BackendRt): void {
    const check = b.target.check;
    if (!check || this.#closed) return;
    const runner: Runner = { check: this.#createCheck(check), identity: b.identity, stopped: false, timer: undefined, dueAt: 0, inflight: undefined };
    b.runner = runner;
    this.#schedule(b, runner, firstDelay(b.options.interval, check.jitter, this.#random));
  }

  #schedule(b: BackendRt, runner: Runner, delay: number): void {
    if (runner.stopped || this.#closed) return;
    runner.dueAt = performance.now() + delay;
    runner.timer = setTimeout(() => {
      runner.timer = undefined;
      this.#runOnce(b, runner);
    }, delay);
    runner.timer.unref();
  }

  #runOnce(b: BackendRt, runner: Runner): void {
    const check = b.target.check;
    if (runner.stopped || this.#closed || !check) return;
    const ctl = new AbortController();
    const signal = AbortSignal.any([ctl.signal, AbortSignal.timeout(check.timeout)]);
    const done = runner.check
      .run(b.checkTarget, signal)
      .catch((err: unknown): CheckResult => ({ ok: false, status: 'INTERNAL', detail: err instanceof Error ? err.message : String(err), durationMs: 0 }))
      .then((result) => {
        runner.inflight = undefined;
        // A result of a replaced or stopped check is dropped: it speaks for another definition.
        if (runner.stopped || this.#closed || b.runner !== runner) return;
        const svc = this.#services.get(b.service);
        if (!svc || svc.backends.get(b.id) !== b) return;
        const now = this.#clock.now();
        this.#listener.onResult?.(b.service, b.id, result);
        this.#apply(svc, b, trackResult(b.tracker, result, b.options, now), now);
        const cur = b.target.check;
        if (cur) this.#schedule(b, runner, jitteredDelay(nextInterval(b.tracker, b.options), cur.jitter, this.#random));
      });
    runner.inflight = { ctl, done };
  }

  #stopRunner(b: BackendRt): void {
    const r = b.runner;
    if (!r) return;
    r.stopped = true;
    if (r.timer) clearTimeout(r.timer);
    r.inflight?.ctl.abort();
    b.runner = undefined;
  }

  #stopBackend(b: BackendRt): void {
    this.#stopRunner(b);
    if (b.slowTimer) clearTimeout(b.slowTimer);
    b.slowTimer = undefined;
  }

  #weightOf(b: BackendRt, now: number): number {
    return effectiveWeight(b.target.weight, b.tracker.dynamic, b.target.check?.slow_start ?? 0, b.tracker.upSince, now);
  }

  /** Applies a tracker step: weight first (so that an `up` arrives with its slow-start weight), then the flip. */
  #apply(svc: ServiceRt, b: BackendRt, step: Step, now: number): void {
    b.tracker = step.state;
    this.#pushWeight(b, now);
    if (step.flip) this.#emitFlip(svc, b, step.flip, now);
    else if (step.weightChanged) this.#evaluateService(svc, now);
  }

  #emitFlip(svc: ServiceRt, b: BackendRt, flip: { from: BackendState; to: BackendState; source: FlipEvent['source']; reason: string }, now: number): void {
    const e: FlipEvent = { service: svc.spec.name, backend: b.id, ...flip, weight: this.#weightOf(b, now), at: now };
    const log = { service: e.service, backend: e.backend, from: e.from, to: e.to, source: e.source, reason: e.reason };
    if (e.to === 'up') this.#logger?.info(log, `backend ${e.backend} is up`);
    else this.#logger?.warn(log, `backend ${e.backend} is ${e.to}`);
    this.#listener.onFlip?.(e);
    if (e.to === 'up') this.#armSlowStart(b);
    this.#evaluateService(svc, now);
  }

  #pushWeight(b: BackendRt, now: number): void {
    const w = this.#weightOf(b, now);
    if (w === b.weight) return;
    b.weight = w;
    this.#listener.onWeight?.({ service: b.service, backend: b.id, weight: w, at: now });
  }

  /** While ramping, re-push the weight in small steps (push, never poll). */
  #armSlowStart(b: BackendRt): void {
    const ms = b.target.check?.slow_start ?? 0;
    if (ms <= 0 || b.slowTimer || this.#closed) return;
    const step = Math.max(SLOW_START_MIN_STEP_MS, Math.round(ms / 20));
    const tick = () => {
      b.slowTimer = undefined;
      const svc = this.#services.get(b.service);
      if (this.#closed || !svc || svc.backends.get(b.id) !== b || effectiveState(b.tracker) !== 'up' || b.tracker.upSince === undefined) return;
      const now = this.#clock.now();
      this.#pushWeight(b, now);
      if (now - b.tracker.upSince < ms) {
        b.slowTimer = setTimeout(tick, step);
        b.slowTimer.unref();
      }
    };
    b.slowTimer = setTimeout(tick, step);
    b.slowTimer.unref();
  }

  #syncOutlier(svc: ServiceRt, passive: OutlierConfig | undefined, now: number): void {
    const backends = [...svc.backends.values()].map((b) => ({ id: b.id, max_fails: b.target.max_fails, fail_timeout: b.target.fail_timeout }));
    if (passive) {
      if (svc.outlier) {
        svc.outlier.setConfig(passive);
        svc.outlier.setBackends(backends);
      } else svc.outlier = new OutlierDetector(passive, backends);
      return;
    }
    // Passive detection switched off: every ejection ends now.
    svc.outlier = undefined;
    if (svc.outlierTimer) clearTimeout(svc.outlierTimer);
    svc.outlierTimer = undefined;
    for (const b of svc.backends.values()) {
      if (b.tracker.ejected !== undefined) this.#apply(svc, b, trackEjection(b.tracker, undefined, now), now);
    }
  }

  #armOutlierTimer(svc: ServiceRt): void {
    if (svc.outlierTimer) clearTimeout(svc.outlierTimer);
    svc.outlierTimer = undefined;
    const at = svc.outlier?.nextExpiry();
    if (at === undefined || this.#closed) return;
    svc.outlierTimer = setTimeout(
      () => {
        svc.outlierTimer = undefined;
        if (this.#closed || this.#services.get(svc.spec.name) !== svc || !svc.outlier) return;
        const now = this.#clock.now();
        for (const change of svc.outlier.expire(now)) {
          const b = svc.backends.get(change.backend);
          if (b) this.#apply(svc, b, trackEjection(b.tracker, undefined, now), now);
        }
        this.#armOutlierTimer(svc);
      },
      Math.max(1, Math.ceil(at - this.#clock.now())),
    );
    svc.outlierTimer.unref();
  }

  /** Quorum and panic of a service, recomputed after any change; pushes transitions. */
  #evaluateService(svc: ServiceRt, now: number): void {
    const name = svc.spec.name;
    let healthy = 0;
    let total = 0;
    let sum = 0;
    for (const b of svc.backends.values()) {
      const t = b.tracker;
      const s = effectiveState(t);
      if (s === 'up') {
        healthy++;
        sum += dynamicWeight(b.target.weight, t.dynamic);
      }
      if (t.admin === undefined && t.agent === undefined) total++;
    }
    const q = svc.spec.quorum;
    svc.quorumSum = sum;
    if (q) {
      const step = quorumStep(svc.quorumUp, sum, q.quorum, q.hysteresis);
      svc.quorumUp = step.up;
      if (step.changed) {
        // The listener logs it: it knows where the traffic goes instead (sorry server or error page).
        this.#listener.onQuorum?.({ service: name, up: step.up, sum, quorum: q.quorum, at: now });
      }
    } else svc.quorumUp = undefined;
    const panic = isPanic(healthy, total, svc.spec.passive?.panic_threshold ?? 0);
    if (panic !== svc.panic) {
      svc.panic = panic;
      const log = { service: name, healthy, total };
      if (panic) this.#logger?.warn(log, `service ${name} is in panic mode: ${healthy} of ${total} backends healthy`);
      else this.#logger?.info(log, `service ${name} left panic mode`);
      this.#listener.onPanic?.({ service: name, panic, healthy, total, at: now });
    }
  }
}

function lastOf(r: LastResult): NonNullable<BackendSnapshot['last']> {
  return { ok: r.ok, status: describeResult(r), ...(r.detail !== undefined && { detail: r.detail }), durationMs: r.durationMs, at: r.at };
}
