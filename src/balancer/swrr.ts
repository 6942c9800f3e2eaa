import { Pool, poolMethods } from './pool.ts';
import type { Backend, PickContext, Scheduler } from './types.ts';

/**
 * nginx's smooth weighted round robin over a pool (ngx_http_upstream_get_peer in
 * ngx_http_upstream_round_robin.c). Each pick adds every usable backend's effective
 * weight to its current weight, picks the highest, and subtracts the total from the
 * winner. Also the fallback of `ip_hash` and `hash` after 20 failed tries, as nginx.
 */
export class SmoothWeighted {
  readonly #pool: Pool;
  readonly #current: Float64Array;

  constructor(pool: Pool) {
    this.#pool = pool;
    this.#current = new Float64Array(pool.n);
  }

  /** A usable index, or -1. */
  pick(ctx: PickContext): number {
    const pool = this.#pool;
    const current = this.#current;
    const { up, weights, list, n } = pool;
    const accept = ctx.accept;
    let best = -1;
    let bestCurrent = 0;
    let total = 0;
    for (let i = 0; i < n; i++) {
      // pool.usable(i, ctx), inlined: this loop is the default scheduler's whole cost.
      const w = weights[i]!;
      if (up[i] === 0 || w <= 0) continue;
      const b = list[i]!;
      if (b.maxConns > 0 && b.active >= b.maxConns) continue;
      if (accept !== undefined && !accept(b)) continue;
      const c = current[i]! + w;
      current[i] = c;
      total += w;
      if (best < 0 || c > bestCurrent) {
        best = i;
        bestCurrent = c;
      }
    }
    if (best >= 0) current[best]! -= total;
    return best;
  }

  /** Forgets a backend's accumulated turn (when it goes down). */
  reset(i: number): void {
    this.#current[i] = 0;
  }
}

/** `swrr`: nginx's smooth weighted round robin: {5,1,1} gives a a b a c a a. */
export function createSmoothWeighted(backends: readonly Backend[]): Scheduler {
  const pool = new Pool(backends);
  const swrr = new SmoothWeighted(pool);
  return {
    name: 'swrr',
    pick(ctx: PickContext) {
      const i = swrr.pick(ctx);
      return i < 0 ? undefined : pool.list[i];
    },
    ...poolMethods(pool, (i, what) => {
      if (what === 'down') swrr.reset(i);
    }),
  };
}
