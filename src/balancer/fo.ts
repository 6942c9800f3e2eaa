import { Pool, poolMethods } from './pool.ts';
import type { Backend, PickContext, Scheduler } from './types.ts';

/**
 * `fo`: weighted failover (ip_vs_fo.c): the available backend with the highest
 * weight gets every new connection; ties go to the first in list order.
 */
export function createFailover(backends: readonly Backend[]): Scheduler {
  const pool = new Pool(backends);
  return {
    name: 'fo',
    pick(ctx: PickContext) {
      let best = -1;
      for (let i = 0; i < pool.n; i++) {
        if (!pool.ok(i)) continue;
        if (best >= 0 && pool.weights[i]! <= pool.weights[best]!) continue;
        if (ctx.accept && !ctx.accept(pool.list[i]!)) continue;
        best = i;
      }
      return best < 0 ? undefined : pool.list[best];
    },
    ...poolMethods(pool),
  };
}
