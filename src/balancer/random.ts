import { WeightedDraw } from './draw.ts';
import { Pool, poolMethods } from './pool.ts';
import type { Backend, PickContext, Random, Scheduler } from './types.ts';

/** nginx tries 20 random peers before giving up (ngx_http_upstream_random_module.c). */
const TRIES = 20;

/** `random`: nginx's `random`: a backend drawn with probability proportional to its weight. */
export function createRandom(backends: readonly Backend[], random: Random): Scheduler {
  const pool = new Pool(backends);
  const draws = new WeightedDraw(pool, random);
  return {
    name: 'random',
    pick(ctx: PickContext) {
      const i = draws.drawUsable(ctx, TRIES);
      return i < 0 ? undefined : pool.list[i];
    },
    ...poolMethods(pool),
  };
}

/**
 * `random_two`: nginx's `random two least_conn` (ngx_http_upstream_get_random2_peer):
 * two different backends drawn by weight; the one with fewer active connections per
 * unit of weight wins (the second on a tie, as nginx).
 */
export function createRandomTwo(backends: readonly Backend[], random: Random): Scheduler {
  const pool = new Pool(backends);
  const draws = new WeightedDraw(pool, random);
  return {
    name: 'random_two',
    pick(ctx: PickContext) {
      const a = draws.drawUsable(ctx, TRIES);
      if (a < 0) return undefined;
      const b = draws.drawUsable(ctx, TRIES, a);
      if (b < 0) return pool.list[a];
      const pa = pool.list[a]!;
      const pb = pool.list[b]!;
      return pb.active * pool.weights[a]! > pa.active * pool.weights[b]! ? pa : pb;
    },
    ...poolMethods(pool),
  };
}
