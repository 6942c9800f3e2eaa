/**
 * The monitor runtime (minimal): runs the checks of `monitor:` on their schedule
 * inside the daemon of the node that serves the dashboard, feeds each result to the
 * Nagios state logic (src/monitor/state), records results, perfdata and events in
 * the history store (src/store), and takes acknowledgements, downtime and
 * re-checks. The decisions are the state engine's; this file only schedules and
 * moves results.
 *
 * Not here yet: notification delivery (src/monitor/notify is not wired: NOTIFICATION
 * events go to the timeline and the store only) and agents (hosts with `run_on: NODE`
 * report UNKNOWN until the agent exists).
 */
import { join, resolve } from 'node:path';
import type { MonitorConfig } from '../config/monitor-schema.ts';
import type { Logger } from '../core/logger.ts';
import { errorMessage } from '../core/errors.ts';
import { createCheck, type MonitorCheck } from '../monitor/run.ts';
import type { CheckResult } from '../monitor/result.ts';
import { MonitorEngine, type AckRequest, type StatusSnapshot } from '../monitor/state/engine.ts';
import { refKey, type MonitorEvent, type ObjectRef } from '../monitor/state/types.ts';
import { HistoryStore } from '../store/history.ts';

interface Scheduled {
  ref: ObjectRef;
  key: string;
  kind: string;
  maxAttempts: number;
  check: MonitorCheck | undefined;
  /** Why it cannot run here (agent hosts). */
  remote?: string;
}

export interface MonitorRuntimeOptions {
  log: Logger;
  /** Where `monitor.store.path` is relative to. */
  runtimeDir: string;
  /** Checks running at once, at most. Default 64. */
  concurrency?: number;
  now?: () => number;
}

const TICK_MS = 1_000;

function result(state: CheckResult['state'], summary: string, now: number): CheckResult {
  return { state, code: ({ OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 } as const)[state], summary, longOutput: '', perfdata: [], startedAt: now, durationMs: 0 };
}

export class MonitorRuntime {
  readonly engine: MonitorEngine;
  readonly store: HistoryStore;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #objects = new Map<string, Scheduled>();
  readonly #running = new Set<string>();
  readonly #listeners = new Set<(e: MonitorEvent) => void>();
  readonly #concurrency: number;
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | undefined;

  constructor(cfg: MonitorConfig, o: MonitorRuntimeOptions) {
    this.#log = o.log;
    this.#now = o.now ?? Date.now;
    this.#concurrency = o.concurrency ?? 64;
    this.engine = new MonitorEngine(cfg, { now: this.#now });
    const s = cfg.store;
    this.store = new HistoryStore({
      path: resolve(o.runtimeDir, s.path),
      retention: { raw: s.raw_retention, '1m': s.retention_1m, '5m': s.retention_5m, '1h': s.retention_1h, '6h': s.retention_6h, events: s.event_retention },
      flushInterval: s.flush_interval,
      now: this.#now,
      onError: (err) => this.#log.error({ err: errorMessage(err) }, 'monitor: history store write failed'),
    });
    for (const [hn, h] of Object.entries(cfg.hosts)) {
      const remote = h.run_on === 'monitor' ? undefined : `checks of ${hn} run on ${h.run_on}'s agent, which this monitor cannot reach yet`;
      this.#add({ host: hn }, h.check === undefined ? 'none' : 'builtin' in h.check ? h.check.builtin : 'plugin', h.max_check_attempts, h.check === undefined ? undefined : createCheck(h.check, { now: this.#now }), remote);
      for (const [sn, svc] of Object.entries(h.services)) {
        this.#add({ host: hn, service: sn }, 'builtin' in svc.check ? svc.check.builtin : 'plugin', svc.max_check_attempts, createCheck(svc.check, { now: this.#now }), remote);
      }
    }
  }

  #add(ref: ObjectRef, kind: string, maxAttempts: number, check: MonitorCheck | undefined, remote: string | undefined): void {
    const key = refKey(ref);
    this.#objects.set(key, { ref, key, kind, maxAttempts, check, ...(remote !== undefined && { remote }) });
  }

  start(): void {
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
    this.#timer.unref();
    this.#tick();
  }

  /** Called for every state-logic event (state changes, flapping, downtime, acks, notifications due). */
  onEvent(listener: (e: MonitorEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(events: MonitorEvent[]): void {
    for (const e of events) {
      const object = refKey(e.ref);
      const state = e.kind === 'STATE' || e.kind === 'NOTIFICATION' ? e.state : e.kind;
      this.store.event({ time: e.time, kind: e.kind, object, state, detail: e });
      for (const l of this.#listeners) {
        try {
          l(e);
        } catch (err) {
          this.#log.error({ err: errorMessage(err) }, 'monitor: an event listener failed');
        }
      }
    }
  }

  #tick(): void {
    try {
      this.#emit(this.engine.tick());
    } catch (err) {
      this.#log.error({ err: errorMessage(err) }, 'monitor: downtime tick failed');
    }
    for (const ref of this.engine.due(this.#now())) {
      if (this.#running.size >= this.#concurrency) break;
      const key = refKey(ref);
      if (!this.#running.has(key)) void this.#run(key);
    }
  }

  async #run(key: string): Promise<void> {
    const o = this.#objects.get(key);
    if (o === undefined) return;
    this.#running.add(key);
    try {
      const r = o.remote !== undefined ? result('UNKNOWN', o.remote, this.#now()) : o.check === undefined ? result('OK', 'no host check: assumed UP', this.#now()) : await o.check.run(this.#abort.signal);
      if (this.#abort.signal.aborted) return;
      const events = o.ref.service === undefined ? this.engine.hostResult(o.ref.host, r) : this.engine.serviceResult(o.ref.host, o.ref.service, r);
      if (o.check !== undefined && o.remote === undefined) this.store.record(key, r);
      this.#emit(events);
    } catch (err) {
      this.#log.error({ err: errorMessage(err), object: key }, 'monitor: check result could not be applied');
    } finally {
      this.#running.delete(key);
    }
  }

  has(object: string): boolean {
    return this.#objects.has(object);
  }

  kind(object: string): string {
    return this.#objects.get(object)?.kind ?? '';
  }

  maxAttempts(object: string): number {
    return this.#objects.get(object)?.maxAttempts ?? 1;
  }

  static refOf(object: string): ObjectRef {
    const i = object.indexOf('/');
    return i < 0 ? { host: object } : { host: object.slice(0, i), service: object.slice(i + 1) };
  }

  snapshot(): StatusSnapshot[] {
    return this.engine.snapshot();
  }

  /** Runs a check now (the result is applied like a scheduled one). */
  async recheck(object: string): Promise<void> {
    if (this.#running.has(object)) return;
    await this.#run(object);
  }

  acknowledge(object: string, req: AckRequest): void {
    this.#emit(this.engine.acknowledge(MonitorRuntime.refOf(object), req));
  }

  scheduleDowntime(object: string, start: number, end: number, author: string, comment: string): number {
    const r = this.engine.scheduleDowntime({ ref: MonitorRuntime.refOf(object), start, end, fixed: true, author, comment });
    this.#emit(r.events);
    return r.id;
  }

  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#abort.abort();
    try {
      this.store.close();
    } catch (err) {
      this.#log.error({ err: errorMessage(err) }, 'monitor: closing the history store failed');
    }
  }
}

/** The store file for a runtime directory (for tools that read it). */
export function monitorStorePath(runtimeDir: string, cfg: MonitorConfig): string {
  return resolve(join(runtimeDir), cfg.store.path);
}
