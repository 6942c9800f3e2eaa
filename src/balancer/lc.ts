import { overhead, Pool, poolMethods } from './pool.ts';
import type { Backend, PickContext, Scheduler } from './types.ts';

/**
 * `lc`: least connection (ip_vs_lc.c): the lowest overhead, active × 256 + inactive;
 * weights only matter at 0 (quiesced). Ties go to the first in list order.
 */
export function createLeastConnection(backends: readonly Backend[]): Scheduler {
  const pool = new Pool(backends);
  return {
    name: 'lc',
    pick(ctx: PickContext) {
      let best = -1;
      let bestOh = 0;
      for (let i = 0; i < pool.n; i++) {
        if (!pool.ok(i)) continue;
        const b = pool.list[i]!;
        const oh = overhead(b);
        if (best >= 0 && oh >= bestOh) continue;
        if (ctx.accept && !ctx.accept(b)) continue;
        best = i;
        bestOh = oh;
      }
      return best < 0 ? undefined : pool.list[best];
    },
    ...poolMethods(pool),
  };
}
