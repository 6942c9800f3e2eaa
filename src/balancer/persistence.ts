/**
 * Source-IP persistence, LVS's `ipvsadm -p timeout -M netmask` (persistent
 * templates in ip_vs_core.c, ip_vs_sched_persist): a client, or its whole network
 * at the configured granularity, keeps the backend it was given while it comes back
 * within `timeout` of its last connection. Each use refreshes the entry. The table
 * is bounded: beyond `maxEntries` the least recently used entry is dropped, so unique
 * clients cannot grow memory past the cap.
 *
 * Pure: time comes from an injected clock; the proxy calls `pick` instead of
 * `scheduler.pick`, `forget` when it drains a backend, and carries the table across
 * a reload with `rebind` (same object) or `export` / `import`.
 *
 * Cookie persistence lives in sticky.ts; its helpers are re-exported here.
 */
import { type Clock, systemClock } from '../core/clock.ts';
import { isV4Mapped, parseIPv4, parseIPv6 } from './hashing.ts';
import { ExpiringLru } from './lru.ts';
import { isFull } from './pool.ts';
import type { Backend, PickContext, Scheduler } from './types.ts';

export { StickyCookies, readCookie, stickySecret, stickyValue, type StickyOptions } from './sticky.ts';

export interface PersistenceOptions {
  /** An entry lives this long after its last use, ms (ipvsadm `-p`). */
  timeout: number;
  /** IPv4 granularity: a netmask (`255.255.255.0`) or a prefix length (24). Default 32 (each address). */
  granularity?: string | number;
  /** IPv6 granularity: a prefix length. Default 128 (each address). */
  granularityV6?: number;
  /** Most entries kept. Default 65536. */
  maxEntries?: number;
  /** Default: the system's monotonic clock. */
  clock?: Clock;
  /**
   * Extra check before reusing a remembered backend (e.g. the health state), on top
   * of the scheduler's `available`, `max_conns` and the pick's `accept`.
   */
  available?: (b: Backend) => boolean;
}

/** One entry as exported: the client network, the backend's id, and how long ago it was last used. */
export interface PersistenceEntry {
  /** The masked client address: `192.0.2.0` or an IPv6 address. */
  readonly client: string;
  /** The backend's identity key (`host:port`). */
  readonly backend: string;
  /** Ms since last use. */
  readonly idle: number;
}

interface Entry {
  backend: Backend;
  last: number;
}

type Key = number | string;

const words = new Uint16Array(8);
/** First character of an IPv6 key (8 more characters: the masked words); other text keys start with `?`. */
const V6_TAG = 0x36;

function prefixOf(g: string | number | undefined): number {
  if (g === undefined) return 32;
  if (typeof g === 'number') return Math.max(0, Math.min(32, Math.floor(g)));
  const v = parseIPv4(g.trim());
  if (v < 0) {
    const n = Number(g.trim().replace(/^\//, ''));
    return Number.isInteger(n) && n >= 0 && n <= 32 ? n : 32;
  }
  // count leading ones
  let bits = 0;
  while (bits < 32 && v >= 2 ** 32 - 2 ** (32 - bits - 1)) bits++;
  return bits;
}

export class PersistenceTable {
  readonly timeout: number;
  readonly maxEntries: number;
  readonly #mask4: number;
  readonly #prefix6: number;
  readonly #lru: ExpiringLru<Key, Entry>;
  readonly #clock: Clock;
  readonly #available: ((b: Backend) => boolean) | undefined;

  constructor(opts: PersistenceOptions) {
    this.timeout = opts.timeout;
    this.maxEntries = Math.max(1, Math.floor(opts.maxEntries ?? 65536));
    const p4 = prefixOf(opts.granularity);
    this.#mask4 = p4 === 0 ? 0 : 2 ** 32 - 2 ** (32 - p4);
    this.#prefix6 = Math.max(0, Math.min(128, Math.floor(opts.granularityV6 ?? 128)));
    this.#lru = new ExpiringLru<Key, Entry>(this.maxEntries, this.timeout);
    this.#clock = opts.clock ?? systemClock;
    this.#available = opts.available;
  }

  /** Entries held (some may have expired and not been swept yet). */
  get size(): number {
    return this.#lru.size;
  }

  /** The table key of a client: its address masked by the granularity. IPv4-mapped IPv6 counts as IPv4. */
  keyOf(client: string): Key {
    const v4 = parseIPv4(client);
    if (v4 >= 0) return (v4 & this.#mask4) >>> 0;
    if (parseIPv6(client, words)) {
      if (isV4Mapped(words)) return ((((words[6]! << 16) | words[7]!) >>> 0) & this.#mask4) >>> 0;
      let bits = this.#prefix6;
      for (let k = 0; k < 8; k++) {
        const keep = bits >= 16 ? 16 : bits <= 0 ? 0 : bits;
        words[k] = keep === 0 ? 0 : words[k]! & (0xffff << (16 - keep));
        bits -= 16;
      }
      return String.fromCharCode(V6_TAG, words[0]!, words[1]!, words[2]!, words[3]!, words[4]!, words[5]!, words[6]!, words[7]!);
    }
    return `?${client}`;
  }

  #usable(b: Backend, ctx: PickContext | undefined, scheduler: Scheduler | undefined): boolean {
    if (scheduler?.available !== undefined && !scheduler.available(b)) return false;
    if (this.#available !== undefined && !this.#available(b)) return false;
    if (isFull(b)) return false;
    return ctx?.accept === undefined || ctx.accept(b);
  }

  /**
   * The client's remembered backend when it is still usable (refreshing the entry),
   * else the scheduler's pick, remembered in its place. Undefined when the scheduler
   * has none (the old entry is then kept: its backend may come back).
   */
  pick(ctx: PickContext, scheduler: Scheduler): Backend | undefined {
    const now = this.#clock.now();
    const key = this.keyOf(ctx.client);
    const e = this.#lru.get(key, now);
    if (e !== undefined && this.#usable(e.backend, ctx, scheduler)) return e.backend;
    const b = scheduler.pick(ctx);
    if (b === undefined) return undefined;
    if (e !== undefined) e.backend = b;
    else this.#lru.set(key, { backend: b, last: now }, now);
    return b;
  }

  /** The remembered backend of a client (refreshed), if any and not expired; no usability check. */
  lookup(client: string): Backend | undefined {
    return this.#lru.get(this.keyOf(client), this.#clock.now())?.backend;
  }

  /** Remembers (or overwrites) the backend of a client. */
  remember(client: string, b: Backend): void {
    const now = this.#clock.now();
    this.#lru.set(this.keyOf(client), { backend: b, last: now }, now);
  }

  /** Drops every entry pointing at a backend (drain, removal); returns how many. Matches by object or id. */
  forget(b: Backend): number {
    return this.#lru.deleteWhere((e) => e.backend === b || e.backend.id === b.id);
  }

  /** Drops expired entries; returns how many. Optional: expiry also happens lazily. */
  sweep(): number {
    return this.#lru.sweep(this.#clock.now());
  }

  clear(): void {
    this.#lru.clear();
  }

  /**
   * After a reload: points every entry at the new backend object with the same id,
   * and drops entries whose backend is gone. Returns how many were kept.
   */
  rebind(backends: readonly Backend[]): number {
    const byId = new Map(backends.map((b) => [b.id, b]));
    this.#lru.deleteWhere((e) => !byId.has(e.backend.id));
    for (const [, e] of this.#lru.entries()) e.backend = byId.get(e.backend.id)!;
    return this.#lru.size;
  }

  /** The live entries, oldest use first, for carrying into a new table (or to show). */
  export(): PersistenceEntry[] {
    const now = this.#clock.now();
    const out: PersistenceEntry[] = [];
    for (const [key, e] of this.#lru.entries()) {
      if (now - e.last > this.timeout) continue;
      out.push({ client: keyText(key), backend: e.backend.id, idle: now - e.last });
    }
    return out;
  }

  /**
   * Loads exported entries, binding each to the backend with the same id (entries of
   * unknown ids are skipped); the client is masked again with this table's
   * granularity. Returns how many were loaded.
   */
  import(entries: readonly PersistenceEntry[], backends: readonly Backend[]): number {
    const byId = new Map(backends.map((b) => [b.id, b]));
    const now = this.#clock.now();
    let n = 0;
    for (const x of entries) {
      const b = byId.get(x.backend);
      if (b === undefined || !(x.idle >= 0) || x.idle > this.timeout) continue;
      const key = this.keyOf(x.client);
      this.#lru.set(key, { backend: b, last: now - x.idle }, now);
      n++;
    }
    return n;
  }
}

function keyText(key: Key): string {
  if (typeof key === 'number') return `${key >>> 24}.${(key >>> 16) & 255}.${(key >>> 8) & 255}.${key & 255}`;
  if (key.startsWith('?')) return key.slice(1);
  let s = '';
  for (let k = 1; k <= 8; k++) s += (k > 1 ? ':' : '') + key.charCodeAt(k).toString(16);
  return s;
}
