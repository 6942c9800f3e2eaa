/**
 * A bounded map whose entries expire `ttl` ms after their last use, kept in order
 * of last use (a Map's insertion order: a hit moves the entry to the end). Memory is
 * bounded by `max` entries: inserting beyond it evicts the least recently used.
 * Expired entries are dropped lazily: on lookup, and from the old end on insert.
 */
export interface LruEntry {
  /** Time of last use, ms (the caller's clock). */
  last: number;
}

export class ExpiringLru<K, V extends LruEntry> {
  readonly #map = new Map<K, V>();
  readonly max: number;
  readonly ttl: number;

  constructor(max: number, ttl: number) {
    this.max = Math.max(1, Math.floor(max));
    this.ttl = ttl;
  }

  get size(): number {
    return this.#map.size;
  }

  /** The live entry for `key`, refreshed (last = now, moved to the recent end); undefined when missing or expired. */
  get(key: K, now: number): V | undefined {
    const v = this.#map.get(key);
    if (v === undefined) return undefined;
    if (now - v.last > this.ttl) {
      this.#map.delete(key);
      return undefined;
    }
    v.last = now;
    this.#map.delete(key);
    this.#map.set(key, v);
    return v;
  }

  /** The entry without refreshing or expiring it. */
  peek(key: K): V | undefined {
    return this.#map.get(key);
  }

  /** Inserts or replaces; the entry's `last` should be set by the caller. Evicts expired and, beyond `max`, least recently used entries. */
  set(key: K, v: V, now: number): void {
    if (this.#map.has(key)) this.#map.delete(key);
    else this.sweep(now, 4);
    this.#map.set(key, v);
    while (this.#map.size > this.max) {
      const oldest = this.#map.keys().next();
      if (oldest.done === true) break;
      this.#map.delete(oldest.value);
    }
  }

  delete(key: K): boolean {
    return this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
  }

  /** Drops expired entries from the old end; at most `limit` of them (all when omitted). Returns how many. */
  sweep(now: number, limit = Infinity): number {
    let dropped = 0;
    for (const [k, v] of this.#map) {
      if (dropped >= limit || now - v.last <= this.ttl) break;
      this.#map.delete(k);
      dropped++;
    }
    return dropped;
  }

  /** Removes every entry for which `drop` returns true; returns how many. */
  deleteWhere(drop: (v: V, k: K) => boolean): number {
    let n = 0;
    for (const [k, v] of this.#map) {
      if (drop(v, k)) {
        this.#map.delete(k);
        n++;
      }
    }
    return n;
  }

  entries(): IterableIterator<[K, V]> {
    return this.#map.entries();
  }
}
