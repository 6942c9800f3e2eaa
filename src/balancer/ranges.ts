import { intWeight } from './pool.ts';
import type { Backend } from './types.ts';

/**
 * Configured weights laid end to end, as nginx's `hash` and `ip_hash` walk them
 * (`while (w >= peer->weight) { w -= peer->weight; peer = peer->next; }`), with a
 * binary search instead of the walk. Configured, not effective, weights: the mapping
 * of keys stays put while slow start or penalties change effective weights.
 */
export class WeightRanges {
  readonly total: number;
  readonly #cum: Float64Array;
  readonly #idx: Int32Array;
  readonly #m: number;

  constructor(backends: readonly Backend[]) {
    this.#cum = new Float64Array(backends.length);
    this.#idx = new Int32Array(backends.length);
    let m = 0;
    let total = 0;
    for (let i = 0; i < backends.length; i++) {
      const w = intWeight(backends[i]!.weight);
      if (w === 0) continue;
      total += w;
      this.#cum[m] = total;
      this.#idx[m++] = i;
    }
    this.#m = m;
    this.total = total;
  }

  /** The backend index whose range holds w, for 0 <= w < total. */
  find(w: number): number {
    let lo = 0;
    let hi = this.#m - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#cum[mid]! > w) hi = mid;
      else lo = mid + 1;
    }
    return this.#idx[lo]!;
  }
}
