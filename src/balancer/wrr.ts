import { gcd } from './hashing.ts';
import { intWeight, Pool, poolMethods } from './pool.ts';
import type { Backend, PickContext, Scheduler } from './types.ts';

/**
 * `wrr`: LVS weighted round robin (ip_vs_wrr.c). The current weight `cw` starts at
 * the maximum weight and steps down by the weights' gcd after each pass over the
 * list; a pass picks every backend whose weight is >= cw. Weights 4:3:2 give
 * A A B A B C A B C. Effective weights are used as integers (at least 1 when > 0).
 */
export function createWeightedRoundRobin(backends: readonly Backend[]): Scheduler {
  const pool = new Pool(backends);
  const n = pool.n;
  const w = new Int32Array(n);
  let built = -1;
  let mw = 0; // maximum weight
  let di = 1; // gcd of weights: the step of cw
  let limit = 0; // steps after which every backend was seen at every level of cw
  let i = -1;
  let cw = 0;

  // ip_vs_wrr_dest_changed: recompute max and gcd, keep cw within range.
  function rebuild(): void {
    built = pool.version;
    mw = 0;
    di = 0;
    for (let k = 0; k < n; k++) {
      w[k] = pool.up[k] === 1 ? intWeight(pool.weights[k]!) : 0;
      if (w[k]! > 0) {
        mw = Math.max(mw, w[k]!);
        di = gcd(w[k]!, di);
      }
    }
    if (di === 0) di = 1;
    limit = n * (mw / di + 1);
    cw = cw <= 0 || cw > mw ? mw : Math.min(mw, Math.ceil(cw / di) * di);
  }

  return {
    name: 'wrr',
    pick(ctx: PickContext) {
      if (built !== pool.version) rebuild();
      if (mw === 0) return undefined;
      for (let step = 1; step <= limit; step++) {
        if (++i >= n) {
          i = 0;
          cw -= di;
          if (cw <= 0) cw = mw;
        }
        if (w[i]! >= cw && pool.usable(i, ctx)) return pool.list[i];
        // A long search usually means nothing is usable (all full or rejected): check once.
        if (step === 2 * n && pool.scan(0, ctx) < 0) return undefined;
      }
      return undefined;
    },
    ...poolMethods(pool),
  };
}
