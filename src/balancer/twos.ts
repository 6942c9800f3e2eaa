import { overhead, Pool, poolMethods } from './pool.ts';
import type { Backend, PickContext, Random, Scheduler } from './types.ts';

/**
 * `twos`: LVS power of two choices (ip_vs_twos.c): two backends drawn at random by
 * weight (possibly the same one), the one with the lower overhead ÷ weight wins
 * (overhead = active × 256 + inactive).
 */
export function createTwoChoices(backends: readonly Backend[], random: Random): Scheduler {
  const pool = new Pool(backends);
  const n = pool.n;
  // Which backends were usable in the first pass, so that `accept` is asked once per pick.
  const usable = new Uint8Array(n);
  return {
    name: 'twos',
    pick(ctx: PickContext) {
      const { up, weights, list } = pool;
      const accept = ctx.accept;
      let total = 0;
      for (let i = 0; i < n; i++) {
        // pool.usable(i, ctx), inlined for the hot loop
        usable[i] = 0;
        const w = weights[i]!;
        if (up[i] === 0 || w <= 0) continue;
        const b = list[i]!;
        if (b.maxConns > 0 && b.active >= b.maxConns) continue;
        if (accept !== undefined && !accept(b)) continue;
        usable[i] = 1;
        total += w;
      }
      if (total === 0) return undefined;
      const r1 = random() * total;
      const r2 = random() * total;
      let c1 = -1;
      let c2 = -1;
      let last = -1;
      let acc = 0;
      for (let i = 0; i < n && (c1 < 0 || c2 < 0); i++) {
        if (usable[i] === 0) continue;
        last = i;
        acc += weights[i]!;
        if (c1 < 0 && r1 < acc) c1 = i;
        if (c2 < 0 && r2 < acc) c2 = i;
      }
      if (c1 < 0) c1 = last;
      if (c2 < 0) c2 = last;
      // choice2 wins when weight2 × overhead1 > weight1 × overhead2
      const b1 = pool.list[c1]!;
      const b2 = pool.list[c2]!;
      return pool.weights[c2]! * overhead(b1) > pool.weights[c1]! * overhead(b2) ? b2 : b1;
    },
    ...poolMethods(pool),
  };
}
