import { Pool, poolMethods } from './pool.ts';
import type { Backend, PickContext, Scheduler } from './types.ts';

/**
 * `rr`: round robin over available backends (ipvsadm `-s rr`, as ip_vs_rr.c):
 * the search starts after the last pick; backends that are down, full or at
 * weight 0 are passed over.
 */
export function createRoundRobin(backends: readonly Backend[]): Scheduler {
  const pool = new Pool(backends);
  let next = 0;
  return {
    name: 'rr',
    pick(ctx: PickContext) {
      const i = pool.scan(next, ctx);
      if (i < 0) return undefined;
      next = i + 1 === pool.n ? 0 : i + 1;
      return pool.list[i];
    },
    ...poolMethods(pool),
  };
}
