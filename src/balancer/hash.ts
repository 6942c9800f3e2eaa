import { CRC32_INIT, crc32, crc32Byte, crc32Decimal, crc32Final, crc32String, crc32Uint32LE } from './hashing.ts';
import { intWeight, Pool, poolMethods } from './pool.ts';
import { WeightRanges } from './ranges.ts';
import { SmoothWeighted } from './swrr.ts';
import type { Backend, PickContext, Scheduler } from './types.ts';

export interface KeyHashOptions {
  /** Ketama consistent hashing instead of nginx's modulo hash. */
  consistent: boolean;
  /** Bounded load, in percent of the average (HAProxy `hash-balance-factor`); 0 = off. Only with `consistent`. */
  balanceFactor: number;
}

/** nginx: `hash` rehashes up to 20 times, the ring is walked 20 points, then round robin. */
const HASH_TRIES = 21;
const CHASH_TRIES = 20;
/** Ring points per unit of weight (ngx_http_upstream_init_chash: `npoints = peer->weight * 160`). */
const POINTS_PER_WEIGHT = 160;

/**
 * The ketama ring of nginx's `hash ... consistent`: for each backend,
 * 160 × weight points; the first is crc32(host, "\0", port, 4 zero bytes), each next
 * one crc32(host, "\0", port, previous point as 4 little-endian bytes). Sorted by
 * point, duplicates dropped. Returns the points and the backend index of each.
 */
export function buildKetamaRing(backends: readonly Backend[]): { points: Uint32Array; owner: Int32Array } {
  let total = 0;
  for (const b of backends) total += intWeight(b.weight) * POINTS_PER_WEIGHT;
  // point × 2^20 + index sorts by point, then by list order; exact in a double below 2^53.
  const packed = new Float64Array(total);
  let m = 0;
  for (let i = 0; i < backends.length; i++) {
    const b = backends[i]!;
    const npoints = intWeight(b.weight) * POINTS_PER_WEIGHT;
    if (npoints === 0) continue;
    const colon = b.id.lastIndexOf(':');
    let base = crc32String(CRC32_INIT, colon < 0 ? b.id : b.id.slice(0, colon));
    base = crc32Byte(base, 0);
    if (colon >= 0) base = crc32String(base, b.id.slice(colon + 1));
    let prev = 0;
    for (let j = 0; j < npoints; j++) {
      const h = crc32Final(crc32Uint32LE(base, prev));
      packed[m++] = h * 1048576 + i;
      prev = h;
    }
  }
  packed.sort();
  const points = new Uint32Array(m);
  const owner = new Int32Array(m);
  let k = 0;
  for (let j = 0; j < m; j++) {
    const h = Math.floor(packed[j]! / 1048576);
    if (k > 0 && points[k - 1] === h) continue;
    points[k] = h;
    owner[k++] = packed[j]! - h * 1048576;
  }
  return { points: points.subarray(0, k), owner: owner.subarray(0, k) };
}

function firstPoint(points: Uint32Array, h: number): number {
  // ngx_http_upstream_find_chash_point: the first point >= h (wrapping to 0).
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid]! < h) lo = mid + 1;
    else hi = mid;
  }
  return lo === points.length ? 0 : lo;
}

/**
 * `hash`: nginx's `hash $key` (ngx_http_upstream_hash_module.c) on `ctx.key` (the
 * client address when the caller gives none).
 *
 * - Modulo (default): hash = (crc32(key) >> 16) & 0x7fff, the backend whose range
 *   of configured weights holds hash mod total weight; when it is unusable, add
 *   (crc32(tries, key) >> 16) & 0x7fff and try again, up to 20 times, then round robin.
 * - `consistent`: ketama (see buildKetamaRing): the first point at or after
 *   crc32(key); when its backend is unusable, the next point, up to 20, then round
 *   robin. A backend leaving moves only its own keys.
 * - `balanceFactor` (with `consistent`): HAProxy's bounded load
 *   (chash_server_is_eligible in lb_chash.c): a backend is eligible while its active
 *   count is below its share, by effective weight, of
 *   ceil((all active + 1) × factor / 100); the ring is walked to the first eligible
 *   backend. When none is, the first usable one on the way.
 */
export function createKeyHash(backends: readonly Backend[], opts: KeyHashOptions): Scheduler {
  const pool = new Pool(backends);
  const n = pool.n;
  const fallback = new SmoothWeighted(pool);
  const ranges = opts.consistent ? undefined : new WeightRanges(pool.list);
  const ring = opts.consistent ? buildKetamaRing(pool.list) : undefined;
  const factor = opts.consistent ? opts.balanceFactor : 0;
  // Bounded load: integer effective weights of up backends, and the sum of those before each.
  const ew = new Int32Array(n);
  const cum = new Float64Array(n);
  let totW = 0;
  let built = -1;

  function rebuildWeights(): void {
    built = pool.version;
    totW = 0;
    for (let i = 0; i < n; i++) {
      ew[i] = pool.up[i] === 1 ? intWeight(pool.weights[i]!) : 0;
      cum[i] = totW;
      totW += ew[i]!;
    }
  }

  function pickModulo(key: string, ctx: PickContext, r: WeightRanges): number {
    let hash = 0;
    for (let t = 0; t < HASH_TRIES; t++) {
      let crc = CRC32_INIT;
      if (t > 0) crc = crc32Decimal(crc, t);
      hash += (crc32Final(crc32String(crc, key)) >>> 16) & 0x7fff;
      const i = r.find(hash % r.total);
      if (pool.usable(i, ctx)) return i;
    }
    return -1;
  }

  function pickRing(key: string, ctx: PickContext, r: { points: Uint32Array; owner: Int32Array }): number {
    const count = r.points.length;
    let p = firstPoint(r.points, crc32(key));
    if (factor === 0) {
      for (let t = 0; t < CHASH_TRIES; t++) {
        const i = r.owner[p]!;
        if (pool.usable(i, ctx)) return i;
        if (++p === count) p = 0;
      }
      return -1;
    }
    if (built !== pool.version) rebuildWeights();
    if (totW === 0) return -1;
    let served = 0;
    for (let i = 0; i < n; i++) served += pool.list[i]!.active;
    const totSlots = Math.floor(((served + 1) * factor + 99) / 100);
    const perWeight = Math.floor(totSlots / totW);
    const remainder = totSlots % totW;
    let firstUsable = -1;
    for (let t = 0; t < count; t++) {
      const i = r.owner[p]!;
      if (++p === count) p = 0;
      if (!pool.usable(i, ctx)) continue;
      if (firstUsable < 0) firstUsable = i;
      let slots = ew[i]! * perWeight + Math.floor(((cum[i]! + ew[i]!) * remainder) / totW) - Math.floor((cum[i]! * remainder) / totW);
      if (slots === 0) slots = 1;
      if (pool.list[i]!.active < slots) return i;
    }
    return firstUsable;
  }

  return {
    name: 'hash',
    pick(ctx: PickContext) {
      if (n === 0) return undefined;
      const key = ctx.key ?? ctx.client;
      let i = -1;
      if (ring !== undefined) {
        if (ring.points.length > 0) i = pickRing(key, ctx, ring);
      } else if (ranges !== undefined && ranges.total > 0) {
        i = pickModulo(key, ctx, ranges);
      }
      if (i < 0) i = fallback.pick(ctx);
      return i < 0 ? undefined : pool.list[i];
    },
    ...poolMethods(pool, (i, what) => {
      if (what === 'down') fallback.reset(i);
    }),
  };
}
