/**
 * The history store seen from the monitor: the same writes as HistoryStore (queued,
 * never waited for) and its queries as promises, with the store itself in a worker
 * thread (store/worker-main.ts). node:sqlite is synchronous: a flush of 1,000 results
 * takes ~70 ms, a year-long graph query a few ms; on the monitor's own event loop —
 * shared with a proxy on a director with `workers: 1` — that would be a stall.
 */
import { Worker } from 'node:worker_threads';
import type { CheckResult } from '../core/check-result.ts';
import type { AuditEntry, Series, StoredEvent, StoreOptions, ViewName } from './history.ts';

export type StoreRequest =
  | { type: 'record'; object: string; result: CheckResult }
  | { type: 'event'; event: StoredEvent }
  | { type: 'audit'; entry: AuditEntry }
  | { type: 'labels'; id: number; object: string }
  | { type: 'view'; id: number; object: string; label: string; view: ViewName; now: number }
  | { type: 'events'; id: number; from: number; to: number; limit: number }
  | { type: 'flush'; id: number }
  | { type: 'close'; id: number };

export type StoreAnswer = { type: 'answer'; id: number; value?: unknown; error?: string } | { type: 'error'; error: string };

const WORKER = new URL('./worker-main.ts', import.meta.url);

export class StoreClient {
  readonly #worker: Worker;
  readonly #now: () => number;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #closed: Promise<void> | undefined;
  #failed: Error | undefined;

  /** `now` is the caller's clock, sent with each query (views end at "now"); `onError`: a failed write or a dead worker. */
  constructor(o: StoreOptions) {
    this.#now = o.now ?? Date.now;
    const onError = o.onError ?? (() => undefined);
    const { now: _n, onError: _e, ...data } = o;
    this.#worker = new Worker(WORKER, { workerData: data });
    this.#worker.on('message', (m: StoreAnswer) => {
      if (m.type === 'error') {
        onError(new Error(m.error));
        return;
      }
      const p = this.#pending.get(m.id);
      if (p === undefined) return;
      this.#pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.value);
    });
    const fail = (err: Error) => {
      this.#failed = err;
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
      onError(err);
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => {
      if (this.#closed === undefined) fail(new Error(`the history store's thread exited (code ${code})`));
    });
    // The thread never keeps the process alive (after the listeners: adding one refs it again).
    this.#worker.unref();
  }

  #post(m: StoreRequest): void {
    if (this.#closed !== undefined || this.#failed !== undefined) return;
    this.#send(m);
  }

  /** worker_threads' postMessage (not window.postMessage: no target origin). */
  #send(m: StoreRequest): void {
    // oxlint-disable-next-line unicorn/require-post-message-target-origin
    this.#worker.postMessage(m);
  }

  #ask<T>(m: (id: number) => StoreRequest): Promise<T> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    if (this.#closed !== undefined) return Promise.reject(new Error('the history store is closed'));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#send(m(id));
    });
  }

  /** Queues a check result and its perfdata (`object` is `host` or `host/service`). */
  record(object: string, result: CheckResult): void {
    this.#post({ type: 'record', object, result });
  }

  event(event: StoredEvent): void {
    this.#post({ type: 'event', event });
  }

  audit(entry: AuditEntry): void {
    this.#post({ type: 'audit', entry });
  }

  labels(object: string): Promise<string[]> {
    return this.#ask((id) => ({ type: 'labels', id, object }));
  }

  view(object: string, label: string, view: ViewName): Promise<Series | undefined> {
    const now = this.#now();
    return this.#ask((id) => ({ type: 'view', id, object, label, view, now }));
  }

  events(from: number, to: number, limit = 1000): Promise<StoredEvent[]> {
    return this.#ask((id) => ({ type: 'events', id, from, to, limit }));
  }

  /** Commits what is queued now (tests; the thread flushes on its own every `flushInterval`). */
  flush(): Promise<number> {
    return this.#ask((id) => ({ type: 'flush', id }));
  }

  /** Commits what is queued, closes the database, ends the thread. Idempotent. */
  close(): Promise<void> {
    if (this.#closed !== undefined) return this.#closed;
    if (this.#failed !== undefined) return (this.#closed = this.#worker.terminate().then(() => undefined));
    const id = this.#nextId++;
    this.#closed = new Promise<void>((resolve) => {
      const done = () => resolve();
      this.#pending.set(id, { resolve: done, reject: done });
      this.#worker.once('exit', done);
      this.#send({ type: 'close', id });
    });
    return this.#closed;
  }
}
