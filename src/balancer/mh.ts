import { fmix32, fnv1a, foldAddress, gcd } from './hashing.ts';
import { intWeight, Pool, poolMethods } from './pool.ts';
import type { Backend, PickContext, Scheduler } from './types.ts';

export interface MaglevOptions {
  /** Lookup table size M, a prime (65537 by default); more entries, finer weights and less disruption. */
  tableSize: number;
  /** Hash the client's source port too (ipvsadm `--sched-flags mh-port`). */
  port: boolean;
  /** When the hashed backend is unusable, rehash to another one (`mh-fallback`). */
  fallback: boolean;
}

const SEED_OFFSET = 0x9e3779b9;
const SEED_SKIP = 0x85ebca6b;
const SEED_LOOKUP = 0xc2b2ae35;
/** Rehashes tried by the fallback before scanning the list. */
const FALLBACK_PROBES = 64;

/** Client hash with an offset, as ip_vs_mh_hashkey: hash(offset + port + folded address). */
function clientHash(fold: number, port: number, offset: number): number {
  return fmix32(((offset + port + fold) >>> 0) ^ SEED_LOOKUP);
}

/**
 * The Maglev lookup table (Eisenbud et al., NSDI '16, §3.4; ip_vs_mh.c). Each
 * backend has a permutation of the M positions (offset, skip from hashes of its
 * id); backends take turns claiming their next free preferred position until the
 * table is full. Weights as ip_vs_mh: a backend claims weight ÷ gcd (shifted right
 * so that the largest fits in half the bits of M) positions per turn.
 *
 * Returns the table: position → backend index, -1 when no member.
 */
export function buildMaglevTable(ids: readonly string[], weights: ArrayLike<number>, size: number): Int32Array {
  const table = new Int32Array(size).fill(-1);
  const n = ids.length;
  let g = 0;
  let mw = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i]!;
    if (w > 0) {
      g = gcd(w, g);
      mw = Math.max(mw, w);
    }
  }
  if (g === 0) return table;
  // ip_vs_mh_shift_weight: keep weight/gcd within half of the table's bits.
  const tabBits = Math.floor(Math.log2(size) / 2);
  const shift = Math.max(0, 32 - Math.clz32(mw / g) - tabBits);
  const offset = new Int32Array(n);
  const skip = new Int32Array(n);
  const next = new Int32Array(n);
  const turns = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const w = weights[i]!;
    if (w <= 0) continue;
    offset[i] = fmix32(fnv1a(ids[i]!, SEED_OFFSET)) % size;
    skip[i] = (fmix32(fnv1a(ids[i]!, SEED_SKIP)) % (size - 1)) + 1;
    next[i] = offset[i]!;
    turns[i] = Math.max(1, (w / g) >> shift);
  }
  let filled = 0;
  while (filled < size) {
    for (let i = 0; i < n && filled < size; i++) {
      for (let t = 0; t < turns[i]! && filled < size; t++) {
        let c = next[i]!;
        while (table[c] !== -1) {
          c += skip[i]!;
          if (c >= size) c -= size;
        }
        table[c] = i;
        next[i] = c;
        filled++;
      }
    }
  }
  return table;
}

/**
 * `mh`: Maglev hashing (ip_vs_mh.c) of the client address (and port with `port`).
 * The table holds the backends that are up, with their configured weights, and is
 * rebuilt (lazily, at the next pick) when one goes down or comes back, as the kernel
 * does when keepalived removes or re-adds a real server: about 1/N of the clients
 * move, the others keep their backend. An effective weight of 0, `max_conns` or
 * `accept` only make a backend unusable for the pick: without `fallback` the pick
 * gives undefined, with it the key is rehashed (ip_vs_mh_get_fallback).
 */
export function createMaglev(backends: readonly Backend[], opts: MaglevOptions): Scheduler {
  const pool = new Pool(backends);
  const size = opts.tableSize;
  const ids = pool.list.map((b) => b.id);
  const configured = pool.list.map((b) => intWeight(b.weight));
  const members = new Int32Array(pool.n);
  let table: Int32Array = new Int32Array(size).fill(-1);
  let dirty = false;

  function rebuild(): void {
    dirty = false;
    for (let i = 0; i < pool.n; i++) members[i] = pool.up[i] === 1 ? configured[i]! : 0;
    table = buildMaglevTable(ids, members, size);
  }

  // Build now rather than at the first pick: a 65537-entry table takes a few ms.
  rebuild();

  return {
    name: 'mh',
    pick(ctx: PickContext) {
      if (dirty) rebuild();
      const fold = foldAddress(ctx.client);
      const port = opts.port ? ctx.clientPort & 0xffff : 0;
      const ihash = clientHash(fold, port, 0) % size;
      const first = table[ihash]!;
      if (first < 0) return undefined;
      if (pool.usable(first, ctx)) return pool.list[first];
      if (!opts.fallback) return undefined;
      for (let k = 0; k < FALLBACK_PROBES; k++) {
        const i = table[clientHash(fold, port, (k + ihash) % size) % size]!;
        if (pool.usable(i, ctx)) return pool.list[i];
      }
      const i = pool.scan(first, ctx);
      return i < 0 ? undefined : pool.list[i];
    },
    ...poolMethods(pool, (_i, what) => {
      if (what !== 'weight') dirty = true;
    }),
  };
}
