import { Pool, poolMethods } from './pool.ts';
import type { Backend, PickContext, Scheduler } from './types.ts';

/**
 * `first`: HAProxy's `balance first` (lb_fas.c): the first backend in config order
 * that has a free connection slot (active < max_conns, or no max_conns) takes the
 * connection; once it is full, the next one does. Keeps the fewest servers busy.
 */
export function createFirst(backends: readonly Backend[]): Scheduler {
  const pool = new Pool(backends);
  return {
    name: 'first',
    pick(ctx: PickContext) {
      const i = pool.scan(0, ctx);
      return i < 0 ? undefined : pool.list[i];
    },
    ...poolMethods(pool),
  };
}
