/**
 * The bounded table of clients a service's limits count on: one entry per client
 * address, at most `max` entries. A Map keeps them in order of last use (a hit moves
 * the entry to the end); inserting past the cap evicts the least recently seen,
 * whose object is reused for the new key, so memory stops growing at the cap
 * whatever the number of unique addresses.
 *
 * An evicted entry may still be referenced by open connections: they keep
 * decrementing its (now detached) counter, which is harmless. The price of the
 * bound is that a client evicted under a spray of addresses starts afresh.
 */
export class ClientEntry {
  key = '';
  /** Open connections counted for this client. */
  conns = 0;
  /** limit_req bucket (see leaky-bucket.ts). */
  excess = 0;
  last = -1;
  /** False once evicted: counters on it no longer matter. */
  live = true;

  reset(key: string): void {
    this.key = key;
    this.conns = 0;
    this.excess = 0;
    this.last = -1;
    this.live = true;
  }
}

export class ClientTable {
  readonly #map = new Map<string, ClientEntry>();
  #max: number;
  /** Entries evicted to stay within the cap, since creation. */
  evictions = 0;

  constructor(max: number) {
    this.#max = Math.max(1, Math.floor(max));
  }

  get size(): number {
    return this.#map.size;
  }

  get max(): number {
    return this.#max;
  }

  /** Lowers or raises the cap; a lower cap evicts the least recently seen at once. */
  resize(max: number): void {
    this.#max = Math.max(1, Math.floor(max));
    while (this.#map.size > this.#max) this.#evictOldest();
  }

  /** The entry for `key`, created (evicting the least recently seen when full) or moved to the recent end. */
  get(key: string): ClientEntry {
    const m = this.#map;
    let e = m.get(key);
    if (e !== undefined) {
      m.delete(key);
      m.set(key, e);
      return e;
    }
    e = m.size >= this.#max ? this.#evictOldest() : new ClientEntry();
    // An evicted entry still held by a connection must not be reused for another client.
    if (e.conns !== 0) e = new ClientEntry();
    e.reset(key);
    m.set(key, e);
    return e;
  }

  /** The entry for `key` without creating it or changing the order. */
  peek(key: string): ClientEntry | undefined {
    return this.#map.get(key);
  }

  /** Drops a client that has no open connection left and no bucket worth keeping. */
  delete(e: ClientEntry): void {
    if (e.live && this.#map.get(e.key) === e) this.#map.delete(e.key);
    e.live = false;
  }

  #evictOldest(): ClientEntry {
    const m = this.#map;
    const first = m.keys().next();
    const key = first.value as string;
    const e = m.get(key)!;
    m.delete(key);
    e.live = false;
    this.evictions++;
    return e;
  }
}
