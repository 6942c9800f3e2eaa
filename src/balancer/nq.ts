import { Pool, poolMethods } from './pool.ts';
import { shortestExpectedDelay } from './sed.ts';
import type { Backend, PickContext, Scheduler } from './types.ts';

/**
 * `nq`: never queue (ip_vs_nq.c): the first backend in list order with no active
 * connection, whatever its weight; when every one is busy, the sed choice.
 */
export function createNeverQueue(backends: readonly Backend[]): Scheduler {
  const pool = new Pool(backends);
  return {
    name: 'nq',
    pick(ctx: PickContext) {
      for (let i = 0; i < pool.n; i++) {
        if (pool.list[i]!.active === 0 && pool.usable(i, ctx)) return pool.list[i];
      }
      const i = shortestExpectedDelay(pool, ctx);
      return i < 0 ? undefined : pool.list[i];
    },
    ...poolMethods(pool),
  };
}
