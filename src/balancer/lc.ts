import { Pool, poolMethods } from './pool.ts';
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
      const { up, weights, list, n } = pool;
      const accept = ctx.accept;
      let best = -1;
      let bestOh = 0;
      for (let i = 0; i < n; i++) {
        if (up[i] === 0 || weights[i]! <= 0) continue;
        const b = list[i]!;
        const active = b.active;
        if (b.maxConns > 0 && active >= b.maxConns) continue;
        const oh = active * 256 + b.inactive; // overhead()
        if (best >= 0 && oh >= bestOh) continue;
        if (accept !== undefined && !accept(b)) continue;
        best = i;
        bestOh = oh;
      }
      return best < 0 ? undefined : list[best];
    },
    ...poolMethods(pool),
  };
}
