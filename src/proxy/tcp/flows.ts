/**
 * The UDP flow table: one entry per client address:port, bounded. Pure (times come
 * from the caller); the caller closes what `onEnd` hands back.
 *
 * An entry expires `ttl` ms after its last datagram either way. Beyond `max`
 * entries the least recently *created or used by the client* one is evicted (Map
 * insertion order; a client datagram moves its flow to the recent end), and counted.
 */
export interface FlowEntry {
  /** Time of the last datagram either way, ms. */
  last: number;
}

export type FlowEnd = 'idle' | 'evicted' | 'closed';

export class FlowTable<V extends FlowEntry> {
  readonly #map = new Map<string, V>();
  max: number;
  ttl: number;
  readonly #onEnd: (v: V, why: FlowEnd) => void;
  /** Flows evicted because the table was full. */
  evicted = 0;
  /** Flows ended by the idle timeout. */
  expired = 0;

  constructor(max: number, ttl: number, onEnd: (v: V, why: FlowEnd) => void) {
    this.max = Math.max(1, Math.floor(max));
    this.ttl = ttl;
    this.#onEnd = onEnd;
  }

  get size(): number {
    return this.#map.size;
  }

  /** The live flow of a client (refreshed and moved to the recent end), or undefined (an expired one is ended). */
  get(key: string, now: number): V | undefined {
    const v = this.#map.get(key);
    if (v === undefined) return undefined;
    if (now - v.last > this.ttl) {
      this.#map.delete(key);
      this.expired++;
      this.#onEnd(v, 'idle');
      return undefined;
    }
    v.last = now;
    this.#map.delete(key);
    this.#map.set(key, v);
    return v;
  }

  /** Adds a new flow (the key must be absent); evicts the least recently used one when full. */
  add(key: string, v: V, now: number): void {
    v.last = now;
    while (this.#map.size >= this.max) {
      const oldest = this.#map.entries().next();
      if (oldest.done === true) break;
      const [k, old] = oldest.value;
      this.#map.delete(k);
      if (now - old.last > this.ttl) this.expired++;
      else this.evicted++;
      this.#onEnd(old, now - old.last > this.ttl ? 'idle' : 'evicted');
    }
    this.#map.set(key, v);
  }

  /** Ends one flow (its backend went down, its socket failed). */
  delete(key: string): boolean {
    const v = this.#map.get(key);
    if (v === undefined) return false;
    this.#map.delete(key);
    this.#onEnd(v, 'closed');
    return true;
  }

  /**
   * Ends every flow idle for longer than `ttl`. A full scan: replies refresh `last`
   * without reordering, so the order alone does not tell which are idle.
   */
  sweep(now: number): number {
    let n = 0;
    for (const [k, v] of this.#map) {
      if (now - v.last <= this.ttl) continue;
      this.#map.delete(k);
      this.expired++;
      n++;
      this.#onEnd(v, 'idle');
    }
    return n;
  }

  /** Ends every flow. */
  clear(): void {
    const all = [...this.#map.values()];
    this.#map.clear();
    for (const v of all) this.#onEnd(v, 'closed');
  }

  values(): IterableIterator<V> {
    return this.#map.values();
  }
}
