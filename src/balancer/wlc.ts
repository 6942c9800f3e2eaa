import { Pool, poolMethods } from './pool.ts';
import type { Backend, PickContext, Scheduler } from './types.ts';

/**
 * The wlc choice (ip_vs_wlc.c): the lowest overhead ÷ weight, compared as
 * overhead_a × weight_b < overhead_b × weight_a so that no division is needed; ties
 * go to the first in list order. Returns an index or -1. Shared with lblc and lblcr.
 */
export function leastWeightedOverhead(pool: Pool, ctx: PickContext): number {
  const { up, weights, list, n } = pool;
  const accept = ctx.accept;
  let best = -1;
  let bestOh = 0;
  let bestW = 0;
  for (let i = 0; i < n; i++) {
    // pool.ok(i), inlined for the hot loop
    const w = weights[i]!;
    if (up[i] === 0 || w <= 0) continue;
    const b = list[i]!;
    const active = b.active;
    if (b.maxConns > 0 && active >= b.maxConns) continue;
    const oh = active * 256 + b.inactive; // overhead()
    if (best >= 0 && oh * bestW >= bestOh * w) continue;
    if (accept !== undefined && !accept(b)) continue;
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
