/**
 * The monitor runtime: runs the checks of `monitor:` on their schedule inside the
 * daemon of the node that serves the dashboard, feeds each result to the Nagios
 * state logic (src/monitor/state), records results, perfdata and events in the
 * history store (src/store), and takes acknowledgements, downtime and re-checks.
 *
 * - Notifications: the engine's NOTIFICATION events go to the delivery queue of
 *   src/monitor/notify (contacts, channels, retries; `enqueue` only appends, so a
 *   slow SMTP server never delays a check); each delivery, sent or given up, is an
 *   event in the store and the timeline. Palisade's own events (`palisadeEvent`)
 *   take the same path to `monitor.palisade_events`' contacts.
 * - Agents: a host with `run_on: NODE` is checked by asking NODE's agent to run the
 *   check by name (src/agent); results the agents push (`pushed`) count as checks,
 *   so a pushed result postpones the next call.
 * - State retention (`monitor.retention`): `restore()` before `start()` reads the
 *   state the last run kept (monitor-retention.ts); it is written every
 *   `retention_interval`, after each acknowledgement and downtime change, and by
 *   `close()`.
 *
 * The decisions are the state engine's and the notification rules'; this file only
 * schedules and moves results.
 */
import { rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { MonitorConfig } from '../config/monitor-schema.ts';
import type { Logger } from '../core/logger.ts';
import { errorMessage } from '../core/errors.ts';
import type { PalisadeEvent as CorePalisadeEvent } from '../core/events.ts';
import type { AgentClient } from '../agent/client.ts';
import type { PushedResult } from '../agent/protocol.ts';
import type { PalisadeStatusProvider } from '../monitor/builtin/palisade.ts';
import { objectName } from '../monitor/notify/notice.ts';
import { Notifier } from '../monitor/notify/notifier.ts';
import type { DeliveryOutcome } from '../monitor/notify/queue.ts';
import { createCheck, type MonitorCheck } from '../monitor/run.ts';
import type { CheckResult, PerfDatum } from '../monitor/result.ts';
import { MonitorEngine, type AckRequest, type StatusSnapshot } from '../monitor/state/engine.ts';
import { refKey, type MonitorEvent, type ObjectRef } from '../monitor/state/types.ts';
import { StoreClient } from '../store/client.ts';
import { readRetention, retentionPath, RetentionWriter } from './monitor-retention.ts';

interface Scheduled {
  ref: ObjectRef;
  key: string;
  kind: string;
  maxAttempts: number;
  check: MonitorCheck | undefined;
  /** The node whose agent runs it (`run_on`); undefined = this monitor. */
  node?: string;
  /** Why it cannot run at all (an agent host without an agent client). */
  remote?: string;
}

/** How the monitor reaches the agents. */
export interface MonitorAgents {
  client: AgentClient;
  /** Node addresses by name (the cluster file's `nodes`). */
  addresses: Readonly<Record<string, string>>;
  /** Time allowed beyond a check's own timeout for the call, ms (`agent.call_timeout`). */
  callTimeout: number;
}

export interface MonitorRuntimeOptions {
  log: Logger;
  /** Where `monitor.store.path` is relative to. */
  runtimeDir: string;
  /** Checks running at once, at most. Default 64. */
  concurrency?: number;
  now?: () => number;
  /** The agents, when some hosts run on them. Without it those hosts are UNKNOWN. */
  agents?: MonitorAgents;
  /** Palisade's own state for the `vrrp` and `backends` checks. */
  palisade?: PalisadeStatusProvider;
  /** Deliver notifications (default true; false = only record them as due). */
  notify?: boolean;
}

/** Palisade's event kinds as `monitor.palisade_events.kinds` names them. */
const EVENT_KIND: Readonly<Record<string, string>> = { vrrp_transition: 'vrrp', split_brain: 'split_brain', backend_state: 'backend', quorum: 'quorum' };

/** How often due checks are looked for, ms: a check runs at most this late (Nagios' scheduler has the same granularity issue, at 1 s). */
const TICK_MS = 200;

function result(state: CheckResult['state'], summary: string, now: number): CheckResult {
  return { state, code: ({ OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 } as const)[state], summary, longOutput: '', perfdata: [], startedAt: now, durationMs: 0 };
}

export class MonitorRuntime {
  readonly engine: MonitorEngine;
  /** The history store, in its own thread (node:sqlite is synchronous). */
  readonly store: StoreClient;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #objects = new Map<string, Scheduled>();
  readonly #running = new Set<string>();
  readonly #listeners = new Set<(e: MonitorEvent) => void>();
  readonly #deliveryListeners = new Set<(o: DeliveryOutcome) => void>();
  readonly #concurrency: number;
  readonly #abort = new AbortController();
  readonly #agents: MonitorAgents | undefined;
  /** Last perfdata per object (for /metrics). */
  readonly #perfdata = new Map<string, readonly PerfDatum[]>();
  readonly notifier: Notifier | undefined;
  /** Writes the retained state; undefined with `monitor.retention: false`. */
  readonly retention: RetentionWriter | undefined;
  #started = false;
  #timer: NodeJS.Timeout | undefined;
  /** The last fill stopped at the concurrency limit: fill again as checks end. */
  #saturated = false;
  #fillQueued = false;
  /** Checks run since start (bench, status). */
  checksRun = 0;
  readonly #cleanups: Array<() => void> = [];

  constructor(cfg: MonitorConfig, o: MonitorRuntimeOptions) {
    this.#log = o.log;
    this.#now = o.now ?? Date.now;
    this.#concurrency = o.concurrency ?? 64;
    this.#agents = o.agents;
    this.engine = new MonitorEngine(cfg, { now: this.#now });
    if (o.notify !== false) this.notifier = new Notifier(cfg, o.log, { onOutcome: (d) => this.#delivered(d) });
    const s = cfg.store;
    this.store = new StoreClient({
      path: resolve(o.runtimeDir, s.path),
      retention: { raw: s.raw_retention, '1m': s.retention_1m, '5m': s.retention_5m, '1h': s.retention_1h, '6h': s.retention_6h, events: s.event_retention },
      flushInterval: s.flush_interval,
      now: this.#now,
      onError: (err) => this.#log.error({ err: errorMessage(err) }, 'monitor: history store write failed'),
    });
    if (cfg.retention) this.retention = new RetentionWriter({ file: retentionPath(o.runtimeDir, cfg), snapshot: () => this.engine.exportState(), log: o.log, intervalMs: cfg.retention_interval });
    const deps = { now: this.#now, ...(o.palisade !== undefined && { palisade: o.palisade }) };
    for (const [hn, h] of Object.entries(cfg.hosts)) {
      const node = h.run_on === 'monitor' ? undefined : h.run_on;
      const remote = node === undefined || this.#agents !== undefined ? undefined : `checks of ${hn} run on ${node}'s agent, and this monitor has no agent: section to reach it`;
      const make = (c: typeof h.check, service: string | undefined) => (c === undefined ? undefined : node === undefined ? createCheck(c, deps) : this.#agentCheck(node, hn, service, 'builtin' in c ? c.builtin : 'plugin', c.timeout));
      this.#add({ host: hn }, h.check === undefined ? 'none' : 'builtin' in h.check ? h.check.builtin : 'plugin', h.max_check_attempts, make(h.check, undefined), node, remote);
      for (const [sn, svc] of Object.entries(h.services)) {
        this.#add({ host: hn, service: sn }, 'builtin' in svc.check ? svc.check.builtin : 'plugin', svc.max_check_attempts, make(svc.check, sn), node, remote);
      }
    }
  }

  #add(ref: ObjectRef, kind: string, maxAttempts: number, check: MonitorCheck | undefined, node: string | undefined, remote: string | undefined): void {
    const key = refKey(ref);
    this.#objects.set(key, { ref, key, kind, maxAttempts, check, ...(node !== undefined && { node }), ...(remote !== undefined && { remote }) });
  }

  /** A check run by `node`'s agent: the call names the check, nothing else; a failed call is UNKNOWN with the reason. */
  #agentCheck(node: string, host: string, service: string | undefined, kind: string, timeout: number): MonitorCheck {
    return {
      kind,
      run: async (signal) => {
        const a = this.#agents;
        const startedAt = this.#now();
        const address = a?.addresses[node];
        if (a === undefined || address === undefined) return result('UNKNOWN', `no address for node ${node}'s agent`, startedAt);
        try {
          return await a.client.run(address, host, service, timeout + a.callTimeout, signal);
        } catch (err) {
          return result('UNKNOWN', `agent ${node}: ${errorMessage(err)}`, startedAt);
        }
      },
    };
  }

  /**
   * Results an agent pushed. Each must be for a host whose `run_on` is that node;
   * it is applied like a scheduled check (state, history, notifications).
   */
  pushed(node: string, results: readonly PushedResult[]): { accepted: number; rejected: string[] } {
    let accepted = 0;
    const rejected: string[] = [];
    for (const p of results) {
      const key = p.service === undefined ? p.host : `${p.host}/${p.service}`;
      const o = this.#objects.get(key);
      if (o === undefined) rejected.push(`${key}: no such host or service`);
      else if (o.node !== node) rejected.push(`${key}: runs on ${o.node ?? 'the monitor'}, not on ${node}`);
      else {
        this.#apply(o, p.result);
        accepted++;
      }
    }
    return { accepted, rejected };
  }

  #apply(o: Scheduled, r: CheckResult): void {
    const events = o.ref.service === undefined ? this.engine.hostResult(o.ref.host, r) : this.engine.serviceResult(o.ref.host, o.ref.service, r);
    if (o.check !== undefined) {
      this.store.record(o.key, r);
      this.#perfdata.set(o.key, r.perfdata);
    }
    this.checksRun++;
    this.#emit(events);
  }

  /** One of Palisade's own events: stored, and notified to `monitor.palisade_events`' contacts. */
  palisadeEvent(e: CorePalisadeEvent): void {
    const kind = EVENT_KIND[e.kind] ?? e.kind;
    try {
      this.store.event({ time: e.time, kind: `palisade_${kind}`, object: e.subject, state: e.state, detail: e });
      this.notifier?.palisadeEvent({ kind, subject: e.subject, state: e.state, message: e.node === '' ? e.message : `${e.node}: ${e.message}`, time: e.time });
    } catch (err) {
      this.#log.error({ err: errorMessage(err), event: e.kind }, 'monitor: a Palisade event could not be handled');
    }
  }

  #delivered(d: DeliveryOutcome): void {
    const object = objectName(d.notice);
    this.store.event({ time: Date.now(), kind: d.ok ? 'NOTIFICATION_SENT' : 'NOTIFICATION_FAILED', object, state: d.notice.state, detail: { type: d.notice.type, contact: d.contact, channel: d.channel, attempts: d.attempts, ...(d.error !== undefined && { error: d.error }) } });
    for (const l of this.#deliveryListeners) {
      try {
        l(d);
      } catch (err) {
        this.#log.error({ err: errorMessage(err) }, 'monitor: a delivery listener failed');
      }
    }
  }

  /** Runs `cleanup` (an unsubscribe) when the runtime closes. */
  own(cleanup: () => void): void {
    this.#cleanups.push(cleanup);
  }

  /** Called after each notification delivery ends (sent, or given up after its retries). */
  onDelivery(listener: (o: DeliveryOutcome) => void): () => void {
    this.#deliveryListeners.add(listener);
    return () => this.#deliveryListeners.delete(listener);
  }

  /** The last perfdata of an object (empty when none). */
  perfdata(object: string): readonly PerfDatum[] {
    return this.#perfdata.get(object) ?? [];
  }

  /**
   * Restores the state the last run kept (acknowledgements, downtime, soft attempts,
   * notification bookkeeping…), before `start()`. Never throws and never stops the
   * start: a file that cannot be used is a warning naming it and why, it is moved
   * aside (`.rejected`) so that the next write does not destroy it, and the monitor
   * starts fresh.
   */
  async restore(): Promise<void> {
    const file = this.retention?.file;
    if (file === undefined) return;
    const r = await readRetention(file);
    if (r.kind === 'none') {
      this.#log.info({ file }, `monitor: no retained state in ${file}: starting fresh`);
      return;
    }
    if (r.kind === 'refused') {
      const kept = `${file}.rejected`;
      const moved = !r.unreadable && (await rename(file, kept).then(() => true, () => false));
      this.#log.warn({ file, reason: r.reason, ...(moved && { kept }) }, `monitor: retained state in ${file} not used: ${r.reason}; starting fresh${moved ? ` (the file is kept as ${kept})` : ''}`);
      return;
    }
    try {
      const report = this.engine.importState(r.snapshot);
      const acks = this.engine.snapshot().filter((s) => s.ack !== undefined).length;
      this.#log.info(
        { file, saved: new Date(r.snapshot.saved).toISOString(), restored: report.restored, downtimes: report.downtimes, acknowledgements: acks },
        `monitor: retained state restored from ${file}: ${report.restored} hosts and services, ${acks} acknowledgements, ${report.downtimes} downtimes`,
      );
      if (report.unknown.length > 0) this.#log.info({ file, count: report.unknown.length, objects: report.unknown }, `monitor: retained state of ${report.unknown.length} hosts and services no longer in the cluster file dropped`);
      if (report.expired.length > 0) this.#log.info({ file, count: report.expired.length, downtimes: report.expired }, `monitor: ${report.expired.length} retained downtimes ended while stopped: dropped`);
      if (report.orphaned.length > 0) this.#log.info({ file, count: report.orphaned.length, downtimes: report.orphaned }, `monitor: ${report.orphaned.length} retained downtimes dropped: their object or trigger is gone`);
      if (report.invalid.length > 0) this.#log.warn({ file, count: report.invalid.length, entries: report.invalid }, `monitor: ${report.invalid.length} retained entries in ${file} do not fit and were left out`);
    } catch (err) {
      this.#log.warn({ file, reason: errorMessage(err) }, `monitor: retained state in ${file} could not be restored: ${errorMessage(err)}`);
    }
  }

  start(): void {
    this.#started = true;
    this.retention?.start();
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
      if (e.kind === 'NOTIFICATION') this.notifier?.fromEngine([e]);
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
    this.#fill();
  }

  /** Starts due checks up to the concurrency limit. */
  #fill(): void {
    this.#saturated = false;
    for (const ref of this.engine.due(this.#now())) {
      if (this.#running.size >= this.#concurrency) {
        this.#saturated = true;
        break;
      }
      const key = refKey(ref);
      if (!this.#running.has(key)) void this.#run(key);
    }
  }

  /** A check ended while others were waiting for a slot: fill again (once per turn of the event loop). */
  #refill(): void {
    if (!this.#saturated || this.#fillQueued || this.#abort.signal.aborted) return;
    this.#fillQueued = true;
    setImmediate(() => {
      this.#fillQueued = false;
      if (!this.#abort.signal.aborted) this.#fill();
    });
  }

  async #run(key: string): Promise<void> {
    const o = this.#objects.get(key);
    if (o === undefined) return;
    this.#running.add(key);
    try {
      const r = o.remote !== undefined ? result('UNKNOWN', o.remote, this.#now()) : o.check === undefined ? result('OK', 'no host check: assumed UP', this.#now()) : await o.check.run(this.#abort.signal);
      if (this.#abort.signal.aborted) return;
      this.#apply(o.remote === undefined ? o : { ...o, check: undefined }, r);
    } catch (err) {
      this.#log.error({ err: errorMessage(err), object: key }, 'monitor: check result could not be applied');
    } finally {
      this.#running.delete(key);
      this.#refill();
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
    this.#retain();
  }

  /** Removes the acknowledgement of an object; false when it had none. */
  removeAcknowledgement(object: string): boolean {
    const events = this.engine.removeAcknowledgement(MonitorRuntime.refOf(object));
    this.#emit(events);
    if (events.length > 0) this.#retain();
    return events.length > 0;
  }

  /** An operator's change is written at once, not at the next interval: a restart must not lose it. */
  #retain(): void {
    void this.retention?.save();
  }

  /** Fixed downtime from start to end; with `duration` (ms), flexible: it starts when the object enters a problem state between start and end. */
  scheduleDowntime(object: string, start: number, end: number, author: string, comment: string, duration?: number): number {
    const r = this.engine.scheduleDowntime({ ref: MonitorRuntime.refOf(object), start, end, fixed: duration === undefined, ...(duration !== undefined && { duration }), author, comment });
    this.#emit(r.events);
    this.#retain();
    return r.id;
  }

  /** Cancels a pending or running downtime; false when there is no such id. */
  cancelDowntime(id: number): boolean {
    if (!this.engine.downtimes().some((d) => d.id === id)) return false;
    this.#emit(this.engine.cancelDowntime(id));
    this.#retain();
    return true;
  }

  /** Stops checks and notifications; resolves once the retained state is written (if started) and the store has committed what was queued. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#abort.abort();
    for (const c of this.#cleanups.splice(0)) c();
    this.notifier?.close();
    this.#agents?.client.close();
    // Not started (the dashboard could not listen): the file still holds what restore() read.
    const retained = this.#started ? this.retention?.close() : undefined;
    await Promise.all([
      retained,
      this.store.close().catch((err: unknown) => {
        this.#log.error({ err: errorMessage(err) }, 'monitor: closing the history store failed');
      }),
    ]);
  }
}

/** The store file for a runtime directory (for tools that read it). */
export function monitorStorePath(runtimeDir: string, cfg: MonitorConfig): string {
  return resolve(join(runtimeDir), cfg.store.path);
}
