import { Pool, poolMethods, randomIndex } from './pool.ts';
import type { Backend, PickContext, Random, Scheduler } from './types.ts';

export interface LeastRequestOptions {
  /** Exponent of (active + 1) in the dynamic weight when weights differ. */
  bias: number;
  /** Backends sampled per pick when all weights are equal. */
  choices: number;
}

/**
 * `least_request`: Envoy's least-request load balancer (LeastRequestLoadBalancer).
 * All weights equal: `choices` backends sampled at random (P2C by default), the one
 * with the fewest active requests wins. Weights differ: a weighted round robin whose
 * weights are recomputed at each pick as weight ÷ (active + 1)^bias (Envoy uses an
 * EDF schedule; this uses the smooth weighted round robin, the same order of picks
 * for fixed weights, without a heap).
 */
export function createLeastRequest(backends: readonly Backend[], opts: LeastRequestOptions, random: Random): Scheduler {
  const pool = new Pool(backends);
  const n = pool.n;
  const current = new Float64Array(n);
  const bias = opts.bias;
  const choices = Math.max(1, Math.floor(opts.choices));
  let built = -1;
  let equal = true;

  function rebuild(): void {
    built = pool.version;
    equal = true;
    let w0 = -1;
    for (let i = 0; i < n; i++) {
      if (pool.up[i] !== 1 || pool.weights[i]! <= 0) continue;
      if (w0 < 0) w0 = pool.weights[i]!;
      else if (pool.weights[i] !== w0) equal = false;
    }
  }

  function sampled(ctx: PickContext): number {
    let best = -1;
    let got = 0;
    // Draw among all positions; skip unusable ones, but give up after a bounded number of draws.
    for (let t = 0; got < choices && t < choices * 8; t++) {
      const i = randomIndex(random, n);
      if (!pool.usable(i, ctx)) continue;
      got++;
      if (best < 0 || pool.list[i]!.active < pool.list[best]!.active) best = i;
    }
    return best >= 0 ? best : pool.scan(randomIndex(random, n), ctx);
  }

  function weighted(ctx: PickContext): number {
    const { up, weights, list } = pool;
    const accept = ctx.accept;
    let best = -1;
    let bestCurrent = 0;
    let total = 0;
    for (let i = 0; i < n; i++) {
      // pool.usable(i, ctx), inlined for the hot loop
      const weight = weights[i]!;
      if (up[i] === 0 || weight <= 0) continue;
      const b = list[i]!;
      if (b.maxConns > 0 && b.active >= b.maxConns) continue;
      if (accept !== undefined && !accept(b)) continue;
      const a = b.active + 1;
      const w = weight / (bias === 1 ? a : bias === 0 ? 1 : Math.pow(a, bias));
      const c = current[i]! + w;
      current[i] = c;
      total += w;
      if (best < 0 || c > bestCurrent) {
        best = i;
        bestCurrent = c;
      }
    }
    if (best >= 0) current[best]! -= total;
    return best;
  }

  return {
    name: 'least_request',
    pick(ctx: PickContext) {
      if (n === 0) return undefined;
      if (built !== pool.version) rebuild();
      const i = equal ? sampled(ctx) : weighted(ctx);
      return i < 0 ? undefined : pool.list[i];
    },
    ...poolMethods(pool, (i, what) => {
      if (what === 'down') current[i] = 0;
    }),
  };
}
