import { Pool, randomIndex } from './pool.ts';
import type { PickContext, Random } from './types.ts';

/**
 * Weighted random draws over the backends that are up with an effective weight
 * above 0: a cumulative-weight table, rebuilt when the pool changes, and a binary
 * search per draw (nginx's ngx_http_upstream_peek_random_peer does the same over
 * its `range` table).
 */
export class WeightedDraw {
  readonly #pool: Pool;
  readonly #random: Random;
  readonly #cum: Float64Array;
  readonly #idx: Int32Array;
  #built = -1;
  #m = 0;
  #total = 0;

  constructor(pool: Pool, random: Random) {
    this.#pool = pool;
    this.#random = random;
    this.#cum = new Float64Array(pool.n);
    this.#idx = new Int32Array(pool.n);
  }

  #rebuild(): void {
    const pool = this.#pool;
    this.#built = pool.version;
    let m = 0;
    let total = 0;
    for (let i = 0; i < pool.n; i++) {
      if (pool.up[i] !== 1 || pool.weights[i]! <= 0) continue;
      total += pool.weights[i]!;
      this.#cum[m] = total;
      this.#idx[m++] = i;
    }
    this.#m = m;
    this.#total = total;
  }

  /** An index drawn with probability proportional to its effective weight, or -1 when none is up. */
  draw(): number {
    if (this.#built !== this.#pool.version) this.#rebuild();
    if (this.#m === 0) return -1;
    const r = this.#random() * this.#total;
    let lo = 0;
    let hi = this.#m - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#cum[mid]! > r) hi = mid;
      else lo = mid + 1;
    }
    return this.#idx[lo]!;
  }

  /**
   * A usable index: up to `tries` weighted draws (nginx gives up after 20), then a
   * scan from a random position so that a usable backend is always found if one
   * exists. -1 when none is usable.
   */
  drawUsable(ctx: PickContext, tries: number, not = -1): number {
    for (let t = 0; t < tries; t++) {
      const i = this.draw();
      if (i < 0) return -1;
      if (i !== not && this.#pool.usable(i, ctx)) return i;
    }
    const pool = this.#pool;
    const start = randomIndex(this.#random, pool.n);
    for (let k = 0; k < pool.n; k++) {
      let i = start + k;
      if (i >= pool.n) i -= pool.n;
      if (i !== not && pool.usable(i, ctx)) return i;
    }
    return -1;
  }
}
