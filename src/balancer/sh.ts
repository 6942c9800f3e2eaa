import { foldAddress, hash32 } from './hashing.ts';
import { intWeight, Pool, poolMethods } from './pool.ts';
import type { Backend, PickContext, Scheduler } from './types.ts';

/** ip_vs_sh.c: 2^8 buckets. */
const TAB_BITS = 8;
const TAB_SIZE = 1 << TAB_BITS;
const TAB_MASK = TAB_SIZE - 1;

export interface SourceHashOptions {
  /** Hash the client's source port too (ipvsadm `--sched-flags sh-port`). */
  port: boolean;
  /** When the hashed backend is unusable, walk the table to the next usable one (`sh-fallback`). */
  fallback: boolean;
}

/**
 * `sh`: source hashing (ip_vs_sh.c). A table of 256 buckets is filled in list order,
 * each backend taking as many consecutive buckets as its weight, round after round;
 * the client address (and port with `port`) is hashed to a bucket with hash_32.
 * Without `fallback`, an unusable hashed backend gives undefined.
 *
 * The table is built from the configured weights and the backend list, so a given
 * client keeps its backend for as long as the set is the same: down, up and
 * effective-weight changes (slow start, passive penalties) only make a backend
 * unavailable (at 0) and never remap other clients. The kernel rebuilds on weight
 * changes; here that would remap every client at each slow-start step.
 */
export function createSourceHash(backends: readonly Backend[], opts: SourceHashOptions): Scheduler {
  const pool = new Pool(backends);
  const table = new Int32Array(TAB_SIZE).fill(-1);
  // ip_vs_sh_reassign: backends in turn, `weight` consecutive buckets each.
  const weights = backends.map((b) => intWeight(b.weight));
  if (weights.some((w) => w > 0)) {
    let p = 0;
    let count = 0;
    for (let bucket = 0; bucket < TAB_SIZE; bucket++) {
      while (weights[p] === 0) p = (p + 1) % pool.n;
      table[bucket] = p;
      if (++count >= weights[p]!) {
        p = (p + 1) % pool.n;
        count = 0;
      }
    }
  }
  return {
    name: 'sh',
    pick(ctx: PickContext) {
      const port = opts.port ? ctx.clientPort & 0xffff : 0;
      // ip_vs_sh_hashkey: (offset + hash_32(port + addr, bits)) & mask
      const base = hash32((port + foldAddress(ctx.client)) >>> 0, TAB_BITS);
      if (!opts.fallback) {
        const i = table[base]!;
        return i >= 0 && pool.usable(i, ctx) ? pool.list[i] : undefined;
      }
      // ip_vs_sh_get_fallback: the following buckets, in order.
      for (let offset = 0; offset < TAB_SIZE; offset++) {
        const i = table[(base + offset) & TAB_MASK]!;
        if (i < 0) break;
        if (pool.usable(i, ctx)) return pool.list[i];
      }
      return undefined;
    },
    ...poolMethods(pool),
  };
}
