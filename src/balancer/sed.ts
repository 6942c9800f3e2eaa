import { Pool, poolMethods } from './pool.ts';
import type { Backend, PickContext, Scheduler } from './types.ts';

/**
 * The sed choice (ip_vs_sed.c): the lowest (active + 1) ÷ weight, the expected delay
 * of one more job; inactive connections do not count. Ties go to the first in list
 * order. Returns an index or -1. Shared with nq.
 */
export function shortestExpectedDelay(pool: Pool, ctx: PickContext): number {
  const { up, weights, list, n } = pool;
  const accept = ctx.accept;
  let best = -1;
  let bestOh = 0;
  let bestW = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i]!;
    if (up[i] === 0 || w <= 0) continue;
    const b = list[i]!;
    const active = b.active;
    if (b.maxConns > 0 && active >= b.maxConns) continue;
    const oh = active + 1;
    if (best >= 0 && oh * bestW >= bestOh * w) continue;
    if (accept !== undefined && !accept(b)) continue;
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
