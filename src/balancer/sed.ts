import { Pool, poolMethods } from './pool.ts';
import type { Backend, PickContext, Scheduler } from './types.ts';

/**
 * The sed choice (ip_vs_sed.c): the lowest (active + 1) ÷ weight, the expected delay
 * of one more job; inactive connections do not count. Ties go to the first in list
 * order. Returns an index or -1. Shared with nq.
 */
export function shortestExpectedDelay(pool: Pool, ctx: PickContext): number {
  let best = -1;
  let bestOh = 0;
  let bestW = 0;
  for (let i = 0; i < pool.n; i++) {
    if (!pool.ok(i)) continue;
    const b = pool.list[i]!;
    const w = pool.weights[i]!;
    const oh = b.active + 1;
    if (best >= 0 && oh * bestW >= bestOh * w) continue;
    if (ctx.accept && !ctx.accept(b)) continue;
    best = i;
    bestOh = oh;
    bestW = w;
  }
  return best;
}

/** `sed`: shortest expected delay (ip_vs_sed.c). */
export function createShortestExpectedDelay(backends: readonly Backend[]): Scheduler {
  const pool = new Pool(backends);
  return {
    name: 'sed',
    pick(ctx: PickContext) {
      const i = shortestExpectedDelay(pool, ctx);
      return i < 0 ? undefined : pool.list[i];
    },
    ...poolMethods(pool),
  };
}
