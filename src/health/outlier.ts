/**
 * Passive outlier detection: backends are ejected from the outcome of real requests,
 * as nginx (`max_fails` within `fail_timeout`) and Envoy (consecutive 5xx / gateway
 * failures, growing ejection time, a cap on ejected hosts) do it. Panic mode lives
 * here too. Pure: time comes in as `now`, nothing here sets a timer; the caller asks
 * `nextExpiry()` and calls `expire(now)` then.
 */
import type { OutlierConfig } from '../config/health-schema.ts';
import { formatDuration } from '../core/units.ts';

/**
 * How one request to a backend went, as the proxy saw it: `ok`; an HTTP status
 * (a number); or a failure before a usable response: `error` (connect refused,
 * reset, closed early), `timeout`, `invalid_header` (unparseable response),
 * named like nginx's `proxy_next_upstream` conditions.
 */
export type PassiveOutcome = 'ok' | 'error' | 'timeout' | 'invalid_header' | number;

/** A backend as the detector sees it; per-backend `max_fails` / `fail_timeout` override the service's (nginx `server ... max_fails=`). */
export interface OutlierBackend {
  readonly id: string;
  readonly max_fails?: number | undefined;
  readonly fail_timeout?: number | undefined;
}

export interface OutlierChange {
  readonly backend: string;
  /** True: ejected now; false: returned now. */
  readonly ejected: boolean;
  readonly reason: string;
  /** For an ejection: clock time it ends, ms. */
  readonly until?: number;
}

export interface EjectionInfo {
  readonly until: number;
  readonly reason: string;
  /** Consecutive-failure ejections counted for the growing ejection time. */
  readonly times: number;
}

interface Entry {
  maxFails: number | undefined;
  failTimeout: number | undefined;
  /** Times of recent failed attempts (for max_fails), oldest first. */
  fails: number[];
  consecutive5xx: number;
  consecutiveGateway: number;
  /** Consecutive-failure ejections so far, decayed while healthy. */
  times: number;
  lastReturn: number | undefined;
  ejection: { until: number; reason: string } | undefined;
}

function isLocalFailure(o: PassiveOutcome): boolean {
  return o === 'error' || o === 'timeout' || o === 'invalid_header';
}

export class OutlierDetector {
  #config: OutlierConfig;
  readonly #entries = new Map<string, Entry>();

  constructor(config: OutlierConfig, backends: readonly OutlierBackend[] = []) {
    this.#config = config;
    this.setBackends(backends);
  }

  /** New options (reload); counters and ejections in force are kept. */
  setConfig(config: OutlierConfig): void {
    this.#config = config;
  }

  /** The service's backends; state of those still listed is kept, others are forgotten. */
  setBackends(backends: readonly OutlierBackend[]): void {
    const keep = new Set<string>();
    for (const b of backends) {
      keep.add(b.id);
      const e = this.#entries.get(b.id);
      if (e) {
        e.maxFails = b.max_fails;
        e.failTimeout = b.fail_timeout;
      } else {
        this.#entries.set(b.id, {
          maxFails: b.max_fails,
          failTimeout: b.fail_timeout,
          fails: [],
          consecutive5xx: 0,
          consecutiveGateway: 0,
          times: 0,
          lastReturn: undefined,
          ejection: undefined,
        });
      }
    }
    // Deleting while iterating a Map is safe.
    for (const id of this.#entries.keys()) if (!keep.has(id)) this.#entries.delete(id);
  }

  /** Feeds one request's outcome; returns the ejection it caused, if any. */
  report(id: string, outcome: PassiveOutcome, now: number): OutlierChange | undefined {
    const e = this.#entries.get(id);
    // Requests still in flight when a backend was ejected report late: ignore them.
    if (!e || e.ejection) return undefined;
    const c = this.#config;

    const is5xx = isLocalFailure(outcome) || (typeof outcome === 'number' && outcome >= 500 && outcome <= 599);
    const isGateway = isLocalFailure(outcome) || outcome === 502 || outcome === 503 || outcome === 504;
    e.consecutive5xx = is5xx ? e.consecutive5xx + 1 : 0;
    e.consecutiveGateway = isGateway ? e.consecutiveGateway + 1 : 0;

    // nginx: errors and timeouts always count as a failed attempt; statuses only when listed.
    const maxFails = e.maxFails ?? c.max_fails;
    const failTimeout = e.failTimeout ?? c.fail_timeout;
    const failed = isLocalFailure(outcome) || (typeof outcome === 'number' && c.fail_status.includes(outcome));
    if (failed && maxFails > 0) {
      e.fails.push(now);
      while (e.fails.length > 0 && e.fails[0]! <= now - failTimeout) e.fails.shift();
      if (e.fails.length >= maxFails && this.#mayEject()) {
        return this.#eject(id, e, now + failTimeout, `${e.fails.length} failed ${e.fails.length === 1 ? 'attempt' : 'attempts'} within ${formatDuration(failTimeout)} (max_fails)`);
      }
    }

    let why: string | undefined;
    if (c.consecutive_5xx > 0 && e.consecutive5xx >= c.consecutive_5xx) why = `${e.consecutive5xx} consecutive 5xx or errors (consecutive_5xx)`;
    else if (c.consecutive_gateway_failure > 0 && e.consecutiveGateway >= c.consecutive_gateway_failure) why = `${e.consecutiveGateway} consecutive gateway failures (consecutive_gateway_failure)`;
    if (why !== undefined && this.#mayEject()) {
      // Envoy: the multiplier falls by one for each ejection period spent healthy.
      if (e.lastReturn !== undefined) e.times = Math.max(0, e.times - Math.floor((now - e.lastReturn) / c.base_ejection_time));
      e.times += 1;
      const ms = Math.min(c.base_ejection_time * e.times, c.max_ejection_time);
      return this.#eject(id, e, now + ms, `${why}, ejected for ${formatDuration(ms)}`);
    }
    return undefined;
  }

  /** Ejections that ended by `now`: those backends return. */
  expire(now: number): OutlierChange[] {
    const out: OutlierChange[] = [];
    for (const [id, e] of this.#entries) {
      if (e.ejection && e.ejection.until <= now) {
        out.push({ backend: id, ejected: false, reason: `ejection ended (${e.ejection.reason})` });
        e.ejection = undefined;
        e.fails = [];
        e.consecutive5xx = 0;
        e.consecutiveGateway = 0;
        e.lastReturn = now;
      }
    }
    return out;
  }

  /** Earliest end of an ejection in force, or undefined. */
  nextExpiry(): number | undefined {
    let t: number | undefined;
    for (const e of this.#entries.values()) if (e.ejection && (t === undefined || e.ejection.until < t)) t = e.ejection.until;
    return t;
  }

  ejection(id: string): EjectionInfo | undefined {
    const e = this.#entries.get(id);
    return e?.ejection ? { ...e.ejection, times: e.times } : undefined;
  }

  ejectedCount(): number {
    let n = 0;
    for (const e of this.#entries.values()) if (e.ejection) n++;
    return n;
  }

  /**
   * Envoy's cap: no ejection while `max_ejection_percent` or more of the backends are
   * ejected, but one is always allowed. nginx: a lone backend is never ejected.
   */
  #mayEject(): boolean {
    const total = this.#entries.size;
    if (total <= 1) return false;
    const ejected = this.ejectedCount();
    return ejected === 0 || (ejected * 100) / total < this.#config.max_ejection_percent;
  }

  #eject(id: string, e: Entry, until: number, reason: string): OutlierChange {
    e.ejection = { until, reason };
    e.fails = [];
    e.consecutive5xx = 0;
    e.consecutiveGateway = 0;
    return { backend: id, ejected: true, reason, until };
  }
}

/**
 * Panic mode (Envoy `healthy_panic_threshold`): when fewer than `threshold` percent
 * of `total` backends are healthy, health is ignored and traffic spreads over all of
 * them. `threshold` 0 = never. With no backends there is nothing to panic about.
 */
export function isPanic(healthy: number, total: number, threshold: number): boolean {
  return threshold > 0 && total > 0 && healthy * 100 < threshold * total;
}
