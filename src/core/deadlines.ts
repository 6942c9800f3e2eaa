/**
 * One coarse timer for many deadlines. Connections set `deadline` (ms on the
 * monotonic clock, 0 = none) as they change state; a single sweep every `tickMs`
 * expires the ones that passed. This costs a field write per event instead of a
 * timer per connection, and keeps enforcement prompt (within one tick), unlike
 * Node's HTTP server which checks its own request timeouts only every 30 s.
 */
export interface Expirable {
  /** When this expires, in ms of `performance.now()`; 0 = never. */
  deadline: number;
  expire(now: number): void;
}

export class DeadlineSweeper {
  readonly #items = new Set<Expirable>();
  #timer: NodeJS.Timeout | undefined;
  readonly #tickMs: number;

  constructor(tickMs = 100) {
    this.#tickMs = tickMs;
  }

  add(x: Expirable): void {
    this.#items.add(x);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.sweep(performance.now()), this.#tickMs);
      this.#timer.unref();
    }
  }

  delete(x: Expirable): void {
    this.#items.delete(x);
  }

  get size(): number {
    return this.#items.size;
  }

  sweep(now: number): void {
    for (const x of this.#items) {
      if (x.deadline !== 0 && x.deadline <= now) {
        x.deadline = 0;
        x.expire(now);
      }
    }
  }

  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#items.clear();
  }
}

export const now: () => number = () => performance.now();
