import { foldAddress } from './hashing.ts';
import { Pool, poolMethods } from './pool.ts';
import type { Backend, PickContext, Scheduler } from './types.ts';

/** ip_vs_dh.c: a table of 2^8 buckets. */
const TAB_SIZE = 256;

/**
 * `dh`: destination hashing (ip_vs_dh.c). A fixed table of 256 buckets is filled
 * with the backends in turn (weights are not used, except that 0 makes a backend
 * unavailable); the destination address (`ctx.destination`, port ignored) is hashed
 * to a bucket. When that backend is unusable there is no fallback: undefined.
 */
export function createDestinationHash(backends: readonly Backend[]): Scheduler {
  const pool = new Pool(backends);
  const table = new Int32Array(TAB_SIZE);
  for (let b = 0; b < TAB_SIZE; b++) table[b] = pool.n === 0 ? -1 : b % pool.n;
  return {
    name: 'dh',
    pick(ctx: PickContext) {
      // ip_vs_dh_hashkey: (addr × 2654435761) & mask
      const i = table[Math.imul(foldAddress(ctx.destination), 2654435761 | 0) & (TAB_SIZE - 1)]!;
      return i >= 0 && pool.usable(i, ctx) ? pool.list[i] : undefined;
    },
    ...poolMethods(pool),
  };
}
