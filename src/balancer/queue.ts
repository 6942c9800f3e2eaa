/**
 * A bounded FIFO of requests waiting for a connection slot, as HAProxy's queue with
 * `maxconn` / `timeout queue` (queue.c): when every usable backend is full
 * (`max_conns` reached), the proxy queues the request instead of failing it; when a
 * request on a backend ends, the proxy calls `release(backend)` and the oldest waiter
 * that accepts that backend gets the slot. Waiters that wait longer than `timeout`
 * expire. One timer runs at a time (for the oldest waiter); timers are injectable
 * and, by default, unref'ed so that they never keep the process alive.
 *
 * ```ts
 * const queue = new WaitQueue({ maxLength: 100, timeout: 5_000 });
 * let b = scheduler.pick(ctx);
 * if (b === undefined && someBackendIsFullOnly) {
 *   const r = await queue.wait({ accept: ctx.accept, signal: req.signal });
 *   if (!r.ok) return reply503(r.reason);   // 'full' | 'timeout' | 'closed' | 'aborted'
 *   b = r.backend;
 * }
 * b.active++; ... on end: b.active--; queue.release(b);
 * ```
 */
import { type Clock, systemClock } from '../core/clock.ts';
import type { Backend } from './types.ts';

export interface QueueTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const defaultTimers: QueueTimers = {
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface WaitQueueOptions {
  /** Most waiters at once; `enqueue` refuses beyond (HAProxy `maxqueue`). */
  maxLength: number;
  /** How long a waiter may wait, ms (HAProxy `timeout queue`); 0 = no limit. */
  timeout: number;
  /** Default: the system's monotonic clock. */
  clock?: Clock;
  /** Default: global setTimeout (unref'ed) / clearTimeout. */
  timers?: QueueTimers;
}

/** Why a wait ended without a backend. */
export type QueueFailure = 'full' | 'timeout' | 'closed' | 'aborted';

export type QueueOutcome = { readonly ok: true; readonly backend: Backend } | { readonly ok: false; readonly reason: QueueFailure };

/** One waiting request, as `enqueue` takes it. */
export interface Waiter {
  /** Only backends for which this returns true may be granted (e.g. not tried yet, or the persisted one). */
  accept?(b: Backend): boolean;
  /** A slot on `b` is now this waiter's: it should start its request there (counting it in `b.active`). */
  grant(b: Backend): void;
  /** The wait ended without a slot: `timeout`, or `closed` by `close()`. Not called after `cancel()`. */
  expire(reason: 'timeout' | 'closed'): void;
}

/** A place in the queue. */
export interface QueueTicket {
  /** Leaves the queue (the client went away); true when it was still waiting. */
  cancel(): boolean;
}

class Node implements QueueTicket {
  readonly waiter: Waiter;
  readonly deadline: number;
  prev: Node | undefined;
  next: Node | undefined;
  queued = true;
  readonly #queue: WaitQueue;

  constructor(queue: WaitQueue, waiter: Waiter, deadline: number) {
    this.#queue = queue;
    this.waiter = waiter;
    this.deadline = deadline;
  }

  cancel(): boolean {
    if (!this.queued) return false;
    this.#queue.remove(this);
    return true;
  }
}

export class WaitQueue {
  readonly maxLength: number;
  readonly timeout: number;
  readonly #clock: Clock;
  readonly #timers: QueueTimers;
  #head: Node | undefined;
  #tail: Node | undefined;
  #length = 0;
  #timer: unknown;
  #timerAt = 0;
  #closed = false;

  constructor(opts: WaitQueueOptions) {
    this.maxLength = Math.max(0, Math.floor(opts.maxLength));
    this.timeout = Math.max(0, opts.timeout);
    this.#clock = opts.clock ?? systemClock;
    this.#timers = opts.timers ?? defaultTimers;
  }

  /** Waiters now. */
  get length(): number {
    return this.#length;
  }

  /** Adds a waiter at the end; undefined (and no callback) when the queue is full or closed. */
  enqueue(waiter: Waiter): QueueTicket | undefined {
    if (this.#closed || this.#length >= this.maxLength) return undefined;
    const node = new Node(this, waiter, this.timeout > 0 ? this.#clock.now() + this.timeout : Infinity);
    node.prev = this.#tail;
    if (this.#tail) this.#tail.next = node;
    else this.#head = node;
    this.#tail = node;
    this.#length++;
    this.#arm();
    return node;
  }

  /** Promise form of `enqueue`: resolves with the granted backend or why there is none. Never rejects. */
  wait(opts: { accept?: (b: Backend) => boolean; signal?: AbortSignal } = {}): Promise<QueueOutcome> {
    return new Promise((resolve) => {
      if (opts.signal?.aborted === true) return resolve({ ok: false, reason: 'aborted' });
      const onAbort = () => {
        if (ticket?.cancel() === true) resolve({ ok: false, reason: 'aborted' });
      };
      const done = () => opts.signal?.removeEventListener('abort', onAbort);
      const accept = opts.accept;
      const ticket = this.enqueue({
        ...(accept ? { accept } : {}),
        grant(backend) {
          done();
          resolve({ ok: true, backend });
        },
        expire(reason) {
          done();
          resolve({ ok: false, reason });
        },
      });
      if (ticket === undefined) return resolve({ ok: false, reason: this.#closed ? 'closed' : 'full' });
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * A slot on `b` is free: grants it to the oldest waiter that accepts `b`. Returns
   * true when a waiter took it (the caller then must not count the slot free).
   */
  release(b: Backend): boolean {
    const now = this.#clock.now();
    for (let node = this.#head; node !== undefined; node = node.next) {
      if (node.deadline <= now) continue; // expires at the next timer
      if (node.waiter.accept !== undefined && !node.waiter.accept(b)) continue;
      this.remove(node);
      node.waiter.grant(b);
      return true;
    }
    return false;
  }

  /** Expires every waiter with `closed` and refuses new ones (shutdown, service removed). */
  close(): void {
    this.#closed = true;
    this.#disarm();
    while (this.#head !== undefined) {
      const node = this.#head;
      this.remove(node);
      node.waiter.expire('closed');
    }
  }

  /** Unlinks a node (internal; tickets call it through `cancel`). */
  remove(node: Node): void {
    if (!node.queued) return;
    node.queued = false;
    if (node.prev) node.prev.next = node.next;
    else this.#head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.#tail = node.prev;
    node.prev = node.next = undefined;
    this.#length--;
    if (this.#length === 0) this.#disarm();
  }

  #arm(): void {
    const head = this.#head;
    if (head === undefined || head.deadline === Infinity) return;
    if (this.#timer !== undefined && this.#timerAt <= head.deadline) return;
    this.#disarm();
    this.#timerAt = head.deadline;
    this.#timer = this.#timers.setTimeout(() => this.#onTimer(), Math.max(0, head.deadline - this.#clock.now()));
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #onTimer(): void {
    this.#timer = undefined;
    const now = this.#clock.now();
    // Deadlines are in FIFO order (one timeout for all), so the due ones are at the head.
    while (this.#head !== undefined && this.#head.deadline <= now) {
      const node = this.#head;
      this.remove(node);
      node.waiter.expire('timeout');
    }
    this.#arm();
  }
}
