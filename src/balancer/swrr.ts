import type { Backend, PickContext, Scheduler } from './types.ts';

/**
 * `swrr`: nginx's smooth weighted round robin (ngx_http_upstream_get_peer).
 * Each pick adds every candidate's weight to its current weight, picks the highest,
 * and subtracts the total from the winner: {5,1,1} gives a a b a c a a.
 */
export function createSmoothWeighted(backends: readonly Backend[]): Scheduler {
  const list = backends.slice();
  const n = list.length;
  const current = new Float64Array(n);
  const eff = new Float64Array(n);
  const avail = new Uint8Array(n);
  const pos = new Map<Backend, number>();
  list.forEach((b, i) => {
    pos.set(b, i);
    eff[i] = b.weight;
    avail[i] = 1;
  });
  return {
    name: 'swrr',
    pick(ctx: PickContext) {
      let best = -1;
      let total = 0;
      for (let i = 0; i < n; i++) {
        if (avail[i] === 0 || eff[i]! <= 0) continue;
        if (ctx.accept && !ctx.accept(list[i]!)) continue;
        current[i]! += eff[i]!;
        total += eff[i]!;
        if (best < 0 || current[i]! > current[best]!) best = i;
      }
      if (best < 0) return undefined;
      current[best]! -= total;
      return list[best];
    },
    up(b) {
      const i = pos.get(b);
      if (i !== undefined) avail[i] = 1;
    },
    down(b) {
      const i = pos.get(b);
      if (i !== undefined) {
        avail[i] = 0;
        current[i] = 0;
      }
    },
    weight(b, w) {
      const i = pos.get(b);
      if (i !== undefined) eff[i] = w;
    },
  };
}
