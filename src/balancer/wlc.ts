import { overhead, Pool, poolMethods } from './pool.ts';
import type { Backend, PickContext, Scheduler } from './types.ts';

/**
 * The wlc choice (ip_vs_wlc.c): the lowest overhead ÷ weight, compared as
 * overhead_a × weight_b < overhead_b × weight_a so that no division is needed; ties
 * go to the first in list order. Returns an index or -1. Shared with lblc and lblcr.
 */
export function leastWeightedOverhead(pool: Pool, ctx: PickContext): number {
  let best = -1;
  let bestOh = 0;
  let bestW = 0;
  for (let i = 0; i < pool.n; i++) {
    if (!pool.ok(i)) continue;
    const b = pool.list[i]!;
    const w = pool.weights[i]!;
    const oh = overhead(b);
    if (best >= 0 && oh * bestW >= bestOh * w) continue;
    if (ctx.accept && !ctx.accept(b)) continue;
    best = i;
    bestOh = oh;
    bestW = w;
  }
  return best;
}

/** `wlc`: weighted least connection (ip_vs_wlc.c): the lowest (active × 256 + inactive) ÷ weight. */
export function createWeightedLeastConnection(backends: readonly Backend[]): Scheduler {
  const pool = new Pool(backends);
  return {
    name: 'wlc',
    pick(ctx: PickContext) {
      const i = leastWeightedOverhead(pool, ctx);
      return i < 0 ? undefined : pool.list[i];
    },
    ...poolMethods(pool),
  };
}
