/**
 * The state every scheduler keeps about its backends: which are up, and their
 * effective weights. Typed arrays indexed by position, so that a pick allocates
 * nothing.
 */
import type { Backend, PickContext, Scheduler } from './types.ts';

/** `max_conns` reached: such a backend is "full" and takes no new connection (LVS's IP_VS_DEST_F_OVERLOAD). */
export function isFull(b: Backend): boolean {
  return b.maxConns > 0 && b.active >= b.maxConns;
}

/** LVS's connection overhead: active × 256 + inactive (ip_vs_dest_conn_overhead in include/net/ip_vs.h). */
export function overhead(b: Backend): number {
  return b.active * 256 + b.inactive;
}

/** An effective weight as an integer for table-building algorithms: 0 stays 0, anything above 0 is at least 1. */
export function intWeight(w: number): number {
  return w > 0 ? Math.max(1, Math.round(w)) : 0;
}

function sanitizeWeight(w: number): number {
  return Number.isFinite(w) && w > 0 ? w : 0;
}

/** What changed in a pool; passed to a scheduler's change hook. */
export type PoolChange = 'up' | 'down' | 'weight';

export class Pool {
  readonly list: readonly Backend[];
  readonly n: number;
  /** 1 when up. */
  readonly up: Uint8Array;
  /** Effective weights; start at the configured weights. */
  readonly weights: Float64Array;
  /** Increases on every change; algorithms with derived tables rebuild lazily when it moved. */
  version = 0;
  readonly #pos = new Map<Backend, number>();
  readonly #byId = new Map<string, number>();

  constructor(backends: readonly Backend[]) {
    this.list = backends.slice();
    this.n = this.list.length;
    this.up = new Uint8Array(this.n).fill(1);
    this.weights = new Float64Array(this.n);
    for (let i = 0; i < this.n; i++) {
      const b = this.list[i]!;
      this.#pos.set(b, i);
      if (!this.#byId.has(b.id)) this.#byId.set(b.id, i);
      this.weights[i] = sanitizeWeight(b.weight);
    }
  }

  /** Position of a backend (by object, else by id), or -1. */
  indexOf(b: Backend): number {
    return this.#pos.get(b) ?? this.#byId.get(b.id) ?? -1;
  }

  /** Up, effective weight above 0, not full: may take a new connection (before `accept`). */
  ok(i: number): boolean {
    return this.up[i] === 1 && this.weights[i]! > 0 && !isFull(this.list[i]!);
  }

  /** `ok` and accepted by the request's `accept`. */
  usable(i: number, ctx: PickContext): boolean {
    return this.ok(i) && (ctx.accept === undefined || ctx.accept(this.list[i]!));
  }

  /** Up with effective weight above 0. */
  available(b: Backend): boolean {
    const i = this.indexOf(b);
    return i >= 0 && this.up[i] === 1 && this.weights[i]! > 0;
  }

  /** Sets up/down; returns the index when something changed, else -1. */
  setUp(b: Backend, up: boolean): number {
    const i = this.indexOf(b);
    if (i < 0 || (this.up[i] === 1) === up) return -1;
    this.up[i] = up ? 1 : 0;
    this.version++;
    return i;
  }

  /** Sets the effective weight (NaN or negative count as 0); returns the index when it changed, else -1. */
  setWeight(b: Backend, w: number): number {
    const i = this.indexOf(b);
    const v = sanitizeWeight(w);
    if (i < 0 || this.weights[i] === v) return -1;
    this.weights[i] = v;
    this.version++;
    return i;
  }

  /** A usable backend scanning from `start` (for fallbacks), or -1. */
  scan(start: number, ctx: PickContext): number {
    const n = this.n;
    for (let k = 0; k < n; k++) {
      let i = start + k;
      if (i >= n) i -= n;
      if (this.usable(i, ctx)) return i;
    }
    return -1;
  }
}

/**
 * `up`, `down`, `weight` and `available` over a pool; `onChange(i, what)` runs after
 * a real change (e.g. to mark a table for rebuilding or reset a counter).
 */
export function poolMethods(pool: Pool, onChange?: (i: number, what: PoolChange) => void): Pick<Required<Scheduler>, 'up' | 'down' | 'weight' | 'available'> {
  return {
    up(b) {
      const i = pool.setUp(b, true);
      if (i >= 0) onChange?.(i, 'up');
    },
    down(b) {
      const i = pool.setUp(b, false);
      if (i >= 0) onChange?.(i, 'down');
    },
    weight(b, w) {
      const i = pool.setWeight(b, w);
      if (i >= 0) onChange?.(i, 'weight');
    },
    available: (b) => pool.available(b),
  };
}

/** A random index in [0, n) from a Random in [0, 1). */
export function randomIndex(random: () => number, n: number): number {
  const i = Math.floor(random() * n);
  return i >= n ? n - 1 : i < 0 ? 0 : i;
}
