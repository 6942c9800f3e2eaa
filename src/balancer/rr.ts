import type { Backend, PickContext, Scheduler } from './types.ts';

/** `rr`: plain round robin over available backends with weight > 0 (ipvsadm `-s rr`). */
export function createRoundRobin(backends: readonly Backend[]): Scheduler {
  const list = backends.slice();
  const up = new Set(list);
  const weights = new Map(list.map((b) => [b, b.weight]));
  let next = 0;
  return {
    name: 'rr',
    pick(ctx: PickContext) {
      const n = list.length;
      for (let i = 0; i < n; i++) {
        const b = list[(next + i) % n]!;
        if (!up.has(b) || weights.get(b)! <= 0) continue;
        if (ctx.accept && !ctx.accept(b)) continue;
        next = (next + i + 1) % n;
        return b;
      }
      return undefined;
    },
    up: (b) => void up.add(b),
    down: (b) => void up.delete(b),
    weight: (b, w) => void weights.set(b, w),
  };
}
