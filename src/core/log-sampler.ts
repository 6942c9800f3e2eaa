/**
 * Log sampling, so that an attack or a dead backend under load does not flood the
 * log: per reason, the first event is logged, then at most one line per
 * `intervalMs`, each saying how many were left out since the previous line. Used by
 * the HTTP proxy's limits, the layer-4 proxy and the dashboard's access lists.
 */
export class LogSampler {
  readonly #next = new Map<string, number>();
  readonly #suppressed = new Map<string, number>();
  intervalMs: number;

  constructor(intervalMs: number) {
    this.intervalMs = intervalMs;
  }

  /** -1: don't log this one; otherwise log it, noting the returned number of refusals left out before it. */
  take(reason: string, nowMs: number): number {
    const next = this.#next.get(reason);
    if (next !== undefined && nowMs < next) {
      this.#suppressed.set(reason, (this.#suppressed.get(reason) ?? 0) + 1);
      return -1;
    }
    this.#next.set(reason, nowMs + this.intervalMs);
    const n = this.#suppressed.get(reason) ?? 0;
    this.#suppressed.set(reason, 0);
    return n;
  }
}
