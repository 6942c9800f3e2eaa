import type { Clock } from '../core/clock.ts';
import { WeightedDraw } from './draw.ts';
import { Pool, poolMethods } from './pool.ts';
import type { Backend, PickContext, Random, Scheduler } from './types.ts';

export interface LeastTimeOptions {
  /** Backends drawn (by weight) per pick; the cheapest wins. */
  choices: number;
  /** Time constant of the moving average, in ms: a sample's weight falls by e every `decay`. */
  decay: number;
}

/** Cost of a backend that has requests in flight but no completed one yet (Finagle's PeakEwma penalty). */
const PENALTY_MS = 1e6;
const TRIES = 20;

/**
 * `least_time` / `ewma`: power of `choices` choices over a moving average of
 * response time. Each pick draws `choices` backends by weight; the cost of one is
 * ewma_ms × (active + 1) ÷ weight and the lowest wins (the cost of Finagle's
 * `P2CPeakEwma`, here with a plain time-decayed average, divided by weight as nginx's
 * `random two least_time`). A backend never observed costs 0 while idle and a large
 * penalty once it has requests in flight, so that a new backend is tried but not
 * flooded before its first answer. The average comes from `observe(b, ms, ok)`; a
 * failure counts as at least twice the current average, so that a backend failing
 * fast does not look fast.
 */
export function createLeastTime(name: 'least_time' | 'ewma', backends: readonly Backend[], opts: LeastTimeOptions, random: Random, clock: Clock): Scheduler {
  const pool = new Pool(backends);
  const n = pool.n;
  const draws = new WeightedDraw(pool, random);
  const avg = new Float64Array(n);
  const last = new Float64Array(n);
  const seen = new Uint8Array(n);
  const choices = Math.max(1, Math.floor(opts.choices));
  const decay = opts.decay > 0 ? opts.decay : 10_000;

  function cost(i: number): number {
    const b = pool.list[i]!;
    const load = (b.active + 1) / pool.weights[i]!;
    if (seen[i] === 0) return b.active === 0 ? 0 : PENALTY_MS * load;
    return avg[i]! * load;
  }

  return {
    name,
    pick(ctx: PickContext) {
      let best = draws.drawUsable(ctx, TRIES);
      if (best < 0) return undefined;
      let bestCost = cost(best);
      for (let c = 1; c < choices; c++) {
        const i = draws.drawUsable(ctx, TRIES, best);
        if (i < 0) break;
        const ci = cost(i);
        if (ci < bestCost) {
          best = i;
          bestCost = ci;
        }
      }
      return pool.list[best];
    },
    observe(b: Backend, ms: number, ok: boolean) {
      const i = pool.indexOf(b);
      if (i < 0) return;
      const v = Number.isFinite(ms) && ms > 0 ? ms : 0;
      const sample = ok ? v : Math.max(v, 2 * avg[i]!);
      const now = clock.now();
      if (seen[i] === 0) {
        avg[i] = sample;
        seen[i] = 1;
      } else {
        const keep = Math.exp(-Math.max(0, now - last[i]!) / decay);
        avg[i] = avg[i]! * keep + sample * (1 - keep);
      }
      last[i] = now;
    },
    ...poolMethods(pool),
  };
}
