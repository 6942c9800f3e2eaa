/**
 * Delivery queue: each (notice, contact, channel) is a job; jobs run a few at a
 * time, a failed one is retried with exponential backoff and logged, and nothing
 * here ever blocks a check (`enqueue` only appends). The queue is bounded: when
 * full, the oldest waiting job is dropped and logged.
 */
import type { ContactConfig, MonitorConfig } from '../../config/monitor-schema.ts';
import type { Logger } from '../../core/logger.ts';
import { objectName, type Notice } from './notice.ts';
import type { Channel } from './channels/types.ts';

export interface DeliveryOutcome {
  notice: Notice;
  contact: string;
  channel: string;
  attempts: number;
  ok: boolean;
  error?: string;
}

interface Job {
  notice: Notice;
  contact: string;
  channel: Channel;
  attempt: number;
  due: number;
  lastError?: string;
}

export interface QueueOptions {
  channels: readonly Channel[];
  contacts: Readonly<Record<string, ContactConfig>>;
  delivery: MonitorConfig['delivery'];
  logger: Logger;
  /** Called after each job ends (delivered or given up); for tests and the event log. */
  onOutcome?: (o: DeliveryOutcome) => void;
  /** Monotonic ms; default performance.now. */
  now?: () => number;
}

export class NotificationQueue {
  readonly #o: QueueOptions;
  readonly #now: () => number;
  readonly #waiting: Job[] = [];
  #running = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  readonly #abort = new AbortController();
  #closed = false;
  readonly #idle: Array<() => void> = [];

  constructor(o: QueueOptions) {
    this.#o = o;
    this.#now = o.now ?? (() => performance.now());
  }

  /** Jobs waiting or in flight. */
  get size(): number {
    return this.#waiting.length + this.#running;
  }

  /** Queues a notice for each named contact on every channel the contact has. */
  enqueue(notice: Notice, contacts: readonly string[]): void {
    if (this.#closed) return;
    const now = this.#now();
    for (const name of contacts) {
      const c = this.#o.contacts[name];
      if (c === undefined) continue;
      const chans = this.#o.channels.filter((ch) => ch.applies(c));
      if (chans.length === 0) this.#o.logger.warn({ contact: name, object: objectName(notice), type: notice.type }, 'contact has no address for any configured channel; notification not sent');
      for (const channel of chans) {
        if (this.#waiting.length >= this.#o.delivery.queue_size) {
          const dropped = this.#waiting.shift()!;
          this.#o.logger.error({ contact: dropped.contact, channel: dropped.channel.name, object: objectName(dropped.notice), type: dropped.notice.type }, 'notification queue full; oldest notification dropped');
          this.#o.onOutcome?.({ notice: dropped.notice, contact: dropped.contact, channel: dropped.channel.name, attempts: dropped.attempt, ok: false, error: 'queue full' });
        }
        this.#waiting.push({ notice, contact: name, channel, attempt: 0, due: now });
      }
    }
    this.#pump();
  }

  /** Resolves once nothing waits or runs (tests, shutdown). */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Stops retries and aborts deliveries in flight; waiting jobs are logged as dropped. */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#abort.abort();
    for (const j of this.#waiting.splice(0)) this.#o.logger.warn({ contact: j.contact, channel: j.channel.name, object: objectName(j.notice) }, 'notification not delivered: shutting down');
    for (const ch of this.#o.channels) ch.close?.();
    this.#settleIdle();
  }

  #settleIdle(): void {
    if (this.size !== 0 && !this.#closed) return;
    for (const r of this.#idle.splice(0)) r();
  }

  #backoff(attempt: number): number {
    const d = this.#o.delivery;
    return Math.min(d.max_backoff, d.backoff * 2 ** (attempt - 1));
  }

  #pump(): void {
    if (this.#closed) return;
    const now = this.#now();
    let nextDue = Infinity;
    for (let i = 0; i < this.#waiting.length && this.#running < this.#o.delivery.concurrency; ) {
      const j = this.#waiting[i]!;
      if (j.due <= now) {
        this.#waiting.splice(i, 1);
        this.#run(j);
      } else {
        nextDue = Math.min(nextDue, j.due);
        i++;
      }
    }
    for (const j of this.#waiting) nextDue = Math.min(nextDue, j.due);
    if (nextDue !== Infinity && (this.#timer === undefined || nextDue < this.#timerAt)) {
      if (this.#timer) clearTimeout(this.#timer);
      this.#timerAt = nextDue;
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#timerAt = Infinity;
        this.#pump();
      }, Math.max(0, nextDue - now));
      this.#timer.unref();
    }
    this.#settleIdle();
  }

  #run(j: Job): void {
    this.#running++;
    j.attempt++;
    const c = this.#o.contacts[j.contact]!;
    const log = { contact: j.contact, channel: j.channel.name, object: objectName(j.notice), type: j.notice.type, state: j.notice.state, attempt: j.attempt };
    j.channel.deliver(j.notice, j.contact, c, this.#abort.signal).then(
      () => {
        this.#running--;
        this.#o.logger.info(log, 'notification delivered');
        this.#o.onOutcome?.({ notice: j.notice, contact: j.contact, channel: j.channel.name, attempts: j.attempt, ok: true });
        this.#pump();
      },
      (err: unknown) => {
        this.#running--;
        const error = err instanceof Error ? err.message : String(err);
        j.lastError = error;
        if (!this.#closed && j.attempt < this.#o.delivery.attempts) {
          const wait = this.#backoff(j.attempt);
          this.#o.logger.warn({ ...log, error, retry_in_ms: wait }, 'notification delivery failed; will retry');
          j.due = this.#now() + wait;
          this.#waiting.push(j);
        } else {
          this.#o.logger.error({ ...log, error }, 'notification delivery failed; giving up');
          this.#o.onOutcome?.({ notice: j.notice, contact: j.contact, channel: j.channel.name, attempts: j.attempt, ok: false, error });
        }
        this.#pump();
      },
    );
  }
}
