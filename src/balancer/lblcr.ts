import type { Clock } from '../core/clock.ts';
import type { LocalityOptions } from './lblc.ts';
import { isLocalityOverloaded } from './lblc.ts';
import { ExpiringLru } from './lru.ts';
import { overhead, Pool, poolMethods } from './pool.ts';
import type { Backend, PickContext, Scheduler } from './types.ts';
import { leastWeightedOverhead } from './wlc.ts';

interface Entry {
  /** Backend positions in the set. */
  set: number[];
  last: number;
  /** When the set last changed, ms. */
  lastMod: number;
}

/**
 * `lblcr`: locality-based least connection with replication (ip_vs_lblcr.c). Each
 * destination has a set of backends; a pick takes the least loaded member (overhead ÷
 * weight). When that member is overloaded (or none is usable), a backend chosen by
 * wlc joins the set. A set of more than one that has not changed for `expire` ms
 * drops its most loaded member.
 */
export function createLocalityReplicated(backends: readonly Backend[], opts: LocalityOptions, clock: Clock): Scheduler {
  const pool = new Pool(backends);
  const cache = new ExpiringLru<string, Entry>(opts.maxEntries, opts.expire);

  // ip_vs_dest_set_min: the least loaded usable member.
  function setMin(set: number[], ctx: PickContext): number {
    let best = -1;
    let bestOh = 0;
    let bestW = 0;
    for (let k = 0; k < set.length; k++) {
      const i = set[k]!;
      if (!pool.ok(i)) continue;
      const oh = overhead(pool.list[i]!);
      const w = pool.weights[i]!;
      if (best >= 0 && oh * bestW >= bestOh * w) continue;
      if (ctx.accept && !ctx.accept(pool.list[i]!)) continue;
      best = i;
      bestOh = oh;
      bestW = w;
    }
    return best;
  }

  // ip_vs_dest_set_max: the position in the set of the most loaded member with weight > 0.
  function setMax(set: number[]): number {
    let best = -1;
    let bestOh = 0;
    let bestW = 0;
    for (let k = 0; k < set.length; k++) {
      const i = set[k]!;
      const w = pool.weights[i]!;
      if (w <= 0) continue;
      const oh = overhead(pool.list[i]!);
      if (best >= 0 && oh * bestW <= bestOh * w) continue;
      best = k;
      bestOh = oh;
      bestW = w;
    }
    return best;
  }

  return {
    name: 'lblcr',
    pick(ctx: PickContext) {
      const now = clock.now();
      const e = cache.get(ctx.destination, now);
      if (e !== undefined) {
        const min = setMin(e.set, ctx);
        // More than one member and unchanged for `expire`: drop the busiest.
        if (e.set.length > 1 && now - e.lastMod > opts.expire) {
          const k = setMax(e.set);
          if (k >= 0 && e.set[k] !== min) {
            e.set.splice(k, 1);
            e.lastMod = now;
          }
        }
        if (min >= 0 && !isLocalityOverloaded(pool, min)) return pool.list[min];
      }
      const i = leastWeightedOverhead(pool, ctx);
      if (i < 0) return undefined;
      if (e === undefined) cache.set(ctx.destination, { set: [i], last: now, lastMod: now }, now);
      else if (!e.set.includes(i)) {
        e.set.push(i);
        e.lastMod = now;
      }
      return pool.list[i];
    },
    ...poolMethods(pool),
  };
}
