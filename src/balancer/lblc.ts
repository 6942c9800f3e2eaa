import type { Clock } from '../core/clock.ts';
import { ExpiringLru } from './lru.ts';
import { Pool, poolMethods } from './pool.ts';
import type { Backend, PickContext, Scheduler } from './types.ts';
import { leastWeightedOverhead } from './wlc.ts';

export interface LocalityOptions {
  /** An unused destination entry is forgotten after this many ms (sysctl lblc_expiration; for lblcr also the age after which a set drops its busiest member). */
  expire: number;
  /** At most this many destinations are remembered; the least recently used is dropped. */
  maxEntries: number;
}

/**
 * LVS's is_overloaded() for lblc/lblcr: a backend is overloaded when its active
 * connections exceed its weight while some other usable backend is below half of
 * its own weight (ip_vs_lblc.c; the kernel scans every destination, this scans the
 * usable ones, since only they could take the connection).
 */
export function isLocalityOverloaded(pool: Pool, i: number): boolean {
  if (pool.list[i]!.active <= pool.weights[i]!) return false;
  for (let j = 0; j < pool.n; j++) {
    if (pool.ok(j) && pool.list[j]!.active * 2 < pool.weights[j]!) return true;
  }
  return false;
}

interface Entry {
  i: number;
  last: number;
}

/**
 * `lblc`: locality-based least connection (ip_vs_lblc.c). Each destination
 * (`ctx.destination`) is served by the backend it was last sent to, unless that one
 * is down, full, at weight 0, rejected or overloaded (see isLocalityOverloaded); then
 * a backend is chosen by wlc and remembered instead.
 */
export function createLocalityLeastConnection(backends: readonly Backend[], opts: LocalityOptions, clock: Clock): Scheduler {
  const pool = new Pool(backends);
  const cache = new ExpiringLru<string, Entry>(opts.maxEntries, opts.expire);
  return {
    name: 'lblc',
    pick(ctx: PickContext) {
      const now = clock.now();
      const e = cache.get(ctx.destination, now);
      if (e !== undefined && pool.usable(e.i, ctx) && !isLocalityOverloaded(pool, e.i)) return pool.list[e.i];
      const i = leastWeightedOverhead(pool, ctx);
      if (i < 0) return undefined;
      if (e !== undefined) e.i = i;
      else cache.set(ctx.destination, { i, last: now }, now);
      return pool.list[i];
    },
    ...poolMethods(pool),
  };
}
