import { Pool, poolMethods } from './pool.ts';
import type { Backend, PickContext, Scheduler } from './types.ts';

/**
 * `ovf`: overflow connection (ip_vs_ovf.c): the highest-weight available backend
 * whose active connections do not exceed its weight; when it has more, the next
 * one in weight order takes the overflow; when all do, none. Ties go to the first
 * in list order.
 */
export function createOverflow(backends: readonly Backend[]): Scheduler {
  const pool = new Pool(backends);
  return {
    name: 'ovf',
    pick(ctx: PickContext) {
      let best = -1;
      for (let i = 0; i < pool.n; i++) {
        if (!pool.ok(i)) continue;
        const w = pool.weights[i]!;
        if (pool.list[i]!.active > w) continue; // as ip_vs_ovf.c: activeconns > weight skips
        if (best >= 0 && w <= pool.weights[best]!) continue;
        if (ctx.accept && !ctx.accept(pool.list[i]!)) continue;
        best = i;
      }
      return best < 0 ? undefined : pool.list[best];
    },
    ...poolMethods(pool),
  };
}
