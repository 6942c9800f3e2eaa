/**
 * The Nagios state logic for every host and service of `monitor:`: check results,
 * acknowledgements and scheduled downtime in, events out (state changes, flapping,
 * downtime, acknowledgements, notifications due with their contacts). No I/O: the
 * caller delivers notifications and stores events. Time comes from an injected wall
 * clock (ms since the epoch), so that tests drive it from tables. `exportState` /
 * `importState` give and take the state that survives a restart (retention.ts);
 * the daemon keeps it in a file.
 */
import type { MonitorConfig, MonitorHostConfig, MonitorServiceConfig } from '../../config/monitor-schema.ts';
import type { CheckResult } from '../result.ts';
import { createPeriods, type Periods } from '../notify/period.ts';
import { isOkState, notificationViability, recipients, type Directory, type NotifyStatus, type NotifyTarget } from '../notify/rules.ts';
import { FLAP_HISTORY, isFlappingNow, percentStateChange, recordState } from './flapping.ts';
import { applyResult, hostStateOf, initialStatus, stateCode, type Transition } from './machine.ts';
import { RETENTION_VERSION, type RetainedDowntime, type RetainedStatus, type RetentionSnapshot } from './retention.ts';
import { refKey, type AnyState, type HostState, type MonitorEvent, type NotificationType, type ObjectRef, type ObjectStatus } from './types.ts';

/** Wall-clock time in ms since the epoch (`Date.now` in production). */
export interface WallClock {
  now(): number;
}

/** Scheduled downtime (Nagios `SCHEDULE_SVC_DOWNTIME` / `SCHEDULE_HOST_DOWNTIME`). */
export interface DowntimeRequest {
  ref: ObjectRef;
  /** Window start and end, ms since the epoch. */
  start: number;
  end: number;
  /** Fixed: from start to end. Flexible: starts when the object enters a problem state within the window and lasts `duration`. */
  fixed: boolean;
  /** Flexible downtime length, ms. */
  duration?: number;
  /** Starts when that downtime starts (Nagios triggered downtime). */
  triggeredBy?: number;
  author: string;
  comment: string;
}

export interface Downtime extends DowntimeRequest {
  id: number;
  /** When it started; undefined while pending. */
  startedAt: number | undefined;
}

export interface AckRequest {
  /** Sticky: kept until OK / UP. Not sticky: removed on any state change. Default false. */
  sticky?: boolean;
  /** Send an ACKNOWLEDGEMENT notification. Default true. */
  notify?: boolean;
  author: string;
  comment: string;
}

interface Entry {
  ref: ObjectRef;
  key: string;
  kind: 'host' | 'service';
  status: ObjectStatus;
  target: NotifyTarget;
  maxAttempts: number;
  checkInterval: number;
  retryInterval: number;
  flapEnabled: boolean;
  flapLow: number;
  flapHigh: number;
  /** Services: the config of dependencies. */
  deps: MonitorServiceConfig['depends_on'];
}

/** A copy of one object's status for renderers (API, dashboard, /metrics). */
export interface StatusSnapshot extends ObjectStatus {
  ref: ObjectRef;
  inDowntime: boolean;
}

/** What `importState` restored and what it left out, for the daemon's log. */
export interface RetentionReport {
  /** Hosts and services whose status was restored. */
  restored: number;
  /** Retained hosts and services that are no longer in the configuration (dropped), by key. */
  unknown: string[];
  /** Retained entries that do not fit (a host state on a service, a downtime that ends before it starts), each with why. */
  invalid: string[];
  /** Downtimes restored (pending and running). */
  downtimes: number;
  /** Downtimes that ended while the daemon was stopped (dropped): `#3 web1/http`. */
  expired: string[];
  /** Downtimes whose object or triggering downtime is gone (dropped), each with why. */
  orphaned: string[];
}

const HOST_STATES: readonly AnyState[] = ['UP', 'DOWN', 'UNREACHABLE'];
const SERVICE_STATES: readonly AnyState[] = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'];

export class UnknownObjectError extends Error {
  constructor(ref: ObjectRef) {
    super(`unknown ${ref.service === undefined ? 'host' : 'service'} ${refKey(ref)}`);
    this.name = 'UnknownObjectError';
  }
}

function target(kind: 'host' | 'service', c: MonitorHostConfig | MonitorServiceConfig): NotifyTarget {
  return {
    kind,
    enabled: c.notifications_enabled,
    options: c.notification_options,
    interval: c.notification_interval,
    firstDelay: c.first_notification_delay,
    period: c.notification_period,
    contacts: c.contacts,
    contactGroups: c.contact_groups,
    escalations: c.escalations,
  };
}

export class MonitorEngine {
  readonly #clock: WallClock;
  readonly #periods: Periods;
  readonly #dir: Directory;
  readonly #entries = new Map<string, Entry>();
  readonly #parents = new Map<string, readonly string[]>();
  readonly #downtimes = new Map<number, Downtime>();
  #nextDowntime = 1;

  constructor(cfg: MonitorConfig, clock: WallClock) {
    this.#clock = clock;
    this.#periods = createPeriods(cfg.time_periods, cfg.timezone);
    this.#dir = { contacts: cfg.contacts, groups: cfg.contact_groups };
    const now = clock.now();
    const f = cfg.flapping;
    for (const [hn, h] of Object.entries(cfg.hosts)) {
      this.#parents.set(hn, h.parents);
      this.#add({ host: hn }, 'host', h, f.enabled && h.flap_detection, h.low_flap_threshold ?? f.low_host_threshold, h.high_flap_threshold ?? f.high_host_threshold, [], now);
      for (const [sn, s] of Object.entries(h.services)) {
        this.#add({ host: hn, service: sn }, 'service', s, f.enabled && s.flap_detection, s.low_flap_threshold ?? f.low_service_threshold, s.high_flap_threshold ?? f.high_service_threshold, s.depends_on, now);
      }
    }
  }

  #add(ref: ObjectRef, kind: 'host' | 'service', c: MonitorHostConfig | MonitorServiceConfig, flap: boolean, low: number, high: number, deps: Entry['deps'], now: number): void {
    const key = refKey(ref);
    this.#entries.set(key, {
      ref,
      key,
      kind,
      status: initialStatus(kind === 'host' ? 'UP' : 'OK', now),
      target: target(kind, c),
      maxAttempts: c.max_check_attempts,
      checkInterval: c.check_interval,
      retryInterval: c.retry_interval,
      flapEnabled: flap,
      flapLow: low,
      flapHigh: high,
      deps,
    });
  }

  #entry(ref: ObjectRef): Entry {
    const e = this.#entries.get(refKey(ref));
    if (e === undefined) throw new UnknownObjectError(ref);
    return e;
  }

  /** The status of one host or service (a copy). */
  status(ref: ObjectRef): StatusSnapshot {
    const e = this.#entry(ref);
    return { ...e.status, flapHistory: [...e.status.flapHistory], notifiedOn: [...e.status.notifiedOn], ref: e.ref, inDowntime: this.#inDowntime(e.key) };
  }

  /** Every host and service, hosts first in configuration order. */
  snapshot(): StatusSnapshot[] {
    return [...this.#entries.values()].map((e) => this.status(e.ref));
  }

  /** Objects whose next check is due at or before `now` (for a scheduler). */
  due(now = this.#clock.now()): ObjectRef[] {
    const out: ObjectRef[] = [];
    for (const e of this.#entries.values()) if (e.status.nextCheck <= now) out.push(e.ref);
    return out;
  }

  // -------------------------------------------------------------------------
  // Check results

  /** A host check result. */
  hostResult(host: string, r: Pick<CheckResult, 'state' | 'summary'>): MonitorEvent[] {
    const e = this.#entry({ host });
    const parents = (this.#parents.get(host) ?? []).map((p) => this.#entry({ host: p }).status.state as HostState);
    const state = hostStateOf(r.state, parents);
    return this.#apply(e, state, r.summary, false);
  }

  /** A service check result. */
  serviceResult(host: string, service: string, r: Pick<CheckResult, 'state' | 'summary'>): MonitorEvent[] {
    const e = this.#entry({ host, service });
    const hostUp = this.#entry({ host }).status.state === 'UP';
    return this.#apply(e, r.state, r.summary, !hostUp);
  }

  #apply(e: Entry, state: AnyState, output: string, forceHard: boolean): MonitorEvent[] {
    const now = this.#clock.now();
    const events: MonitorEvent[] = [];
    const okState: AnyState = e.kind === 'host' ? 'UP' : 'OK';
    const prevState = e.status.state;
    const t: Transition = applyResult(e.status, state, output, { okState, maxAttempts: e.maxAttempts, checkInterval: e.checkInterval, retryInterval: e.retryInterval, forceHard }, now);
    e.status = t.status;
    const s = e.status;
    const ok = state === okState;
    if (t.alert) events.push({ kind: 'STATE', ref: e.ref, state, previous: prevState, stateType: s.stateType, attempt: s.attempt, hardChange: t.hardChange, output, time: now });

    // Acknowledgements: a non-sticky one ends with any state change, a sticky one on OK / UP.
    if (s.ack !== undefined && (ok || (t.stateChanged && !s.ack.sticky))) {
      events.push({ kind: 'ACKREMOVED', ref: e.ref, author: s.ack.author, comment: s.ack.comment, sticky: s.ack.sticky, time: now });
      s.ack = undefined;
    }

    // Flap detection records hard states and soft recoveries only (Nagios flapping.c).
    let flapStopped = false;
    if (s.stateType === 'HARD' || t.softRecovery) {
      s.flapHistory = recordState(s.flapHistory, stateCode(state));
      s.percentStateChange = percentStateChange(s.flapHistory);
      if (e.flapEnabled) {
        const flapping = isFlappingNow(s.isFlapping, s.percentStateChange, e.flapLow, e.flapHigh);
        if (flapping !== s.isFlapping) {
          s.isFlapping = flapping;
          const kind = flapping ? 'FLAPPINGSTART' : 'FLAPPINGSTOP';
          events.push({ kind, ref: e.ref, percent: s.percentStateChange, time: now });
          this.#notify(e, kind, now, events);
          flapStopped = !flapping;
        }
      }
    }

    // Flexible downtime starts when the object enters a problem state inside its window.
    if (!ok) this.#startFlexible(e, now, events);

    // Problems and recoveries.
    if (t.hardChange && ok) {
      this.#recovery(e, now, events);
    } else if (flapStopped && ok && s.recoveryHeld) {
      this.#recovery(e, now, events);
    } else if (!ok && s.stateType === 'HARD') {
      s.recoveryHeld = false;
      if (t.hardChange) {
        // A new hard problem state notifies at once, whatever the re-notification interval.
        s.nextNotification = 0;
        s.noMoreNotifications = false;
      }
      this.#problem(e, now, events);
    }
    return events;
  }

  #notifyStatus(e: Entry): NotifyStatus {
    const s = e.status;
    let hostProblem = false;
    let hostInDowntime = false;
    let dependencyFailed = false;
    if (e.kind === 'service') {
      const h = this.#entry({ host: e.ref.host });
      hostProblem = h.status.state !== 'UP';
      hostInDowntime = this.#inDowntime(h.key);
      for (const d of e.deps) {
        const m = this.#entries.get(refKey({ host: d.host ?? e.ref.host, service: d.service }));
        if (m === undefined) continue;
        const letter = m.status.state === 'OK' ? 'o' : m.status.state === 'WARNING' ? 'w' : m.status.state === 'CRITICAL' ? 'c' : 'u';
        if ((d.fail_on as readonly string[]).includes(letter)) dependencyFailed = true;
      }
    }
    return {
      state: s.state,
      stateType: s.stateType,
      acknowledged: s.ack !== undefined,
      flapping: s.isFlapping,
      inDowntime: this.#inDowntime(e.key),
      hostProblem,
      hostInDowntime,
      dependencyFailed,
      notificationNumber: s.notificationNumber,
      nextNotification: s.nextNotification,
      noMoreNotifications: s.noMoreNotifications,
      notifiedOn: s.notifiedOn,
      lastTimeOk: s.lastTimeOk,
    };
  }

  #problem(e: Entry, now: number, events: MonitorEvent[]): void {
    const v = notificationViability('PROBLEM', e.target, this.#notifyStatus(e), now, this.#periods);
    if (!v.ok) return;
    const s = e.status;
    const number = s.notificationNumber + 1;
    const r = recipients('PROBLEM', e.target, s.state, number, now, this.#periods, this.#dir);
    s.notificationNumber = number;
    s.lastNotification = now;
    if (r.interval === 0) s.noMoreNotifications = true;
    else s.nextNotification = now + r.interval;
    if (!s.notifiedOn.includes(s.state)) s.notifiedOn.push(s.state);
    events.push({ kind: 'NOTIFICATION', ref: e.ref, type: 'PROBLEM', state: s.state, number, contacts: r.contacts, output: s.output, time: now });
  }

  #recovery(e: Entry, now: number, events: MonitorEvent[]): void {
    const s = e.status;
    const v = notificationViability('RECOVERY', e.target, this.#notifyStatus(e), now, this.#periods);
    if (!v.ok && v.reason === 'flapping') {
      // Held until flapping stops (Nagios `check_flapping_recovery_notification`).
      s.recoveryHeld = s.notifiedOn.length > 0;
      return;
    }
    if (v.ok) {
      const number = Math.max(1, s.notificationNumber);
      const r = recipients('RECOVERY', e.target, s.state, number, now, this.#periods, this.#dir);
      events.push({ kind: 'NOTIFICATION', ref: e.ref, type: 'RECOVERY', state: s.state, number, contacts: r.contacts, output: s.output, time: now });
    }
    s.notificationNumber = 0;
    s.nextNotification = 0;
    s.noMoreNotifications = false;
    s.notifiedOn = [];
    s.recoveryHeld = false;
  }

  /** Acknowledgement, flapping and downtime notifications. */
  #notify(e: Entry, type: NotificationType, now: number, events: MonitorEvent[], extra: { author?: string; comment?: string } = {}): void {
    const v = notificationViability(type, e.target, this.#notifyStatus(e), now, this.#periods);
    if (!v.ok) return;
    const number = e.status.notificationNumber;
    const r = recipients(type, e.target, e.status.state, number, now, this.#periods, this.#dir);
    events.push({ kind: 'NOTIFICATION', ref: e.ref, type, state: e.status.state, number, contacts: r.contacts, output: e.status.output, time: now, ...extra });
  }

  // -------------------------------------------------------------------------
  // Acknowledgements

  /** Acknowledges the current problem; refused (Error) when the object is OK / UP. */
  acknowledge(ref: ObjectRef, req: AckRequest): MonitorEvent[] {
    const e = this.#entry(ref);
    if (isOkState(e.status.state)) throw new Error(`${refKey(ref)} is ${e.status.state}: only a problem can be acknowledged`);
    const now = this.#clock.now();
    const sticky = req.sticky ?? false;
    e.status.ack = { sticky, author: req.author, comment: req.comment, time: now };
    const events: MonitorEvent[] = [{ kind: 'ACKNOWLEDGEMENT', ref: e.ref, author: req.author, comment: req.comment, sticky, time: now }];
    if (req.notify ?? true) this.#notify(e, 'ACKNOWLEDGEMENT', now, events, { author: req.author, comment: req.comment });
    return events;
  }

  removeAcknowledgement(ref: ObjectRef): MonitorEvent[] {
    const e = this.#entry(ref);
    const a = e.status.ack;
    if (a === undefined) return [];
    e.status.ack = undefined;
    return [{ kind: 'ACKREMOVED', ref: e.ref, author: a.author, comment: a.comment, sticky: a.sticky, time: this.#clock.now() }];
  }

  // -------------------------------------------------------------------------
  // Scheduled downtime

  /** Schedules downtime; returns its id and the events of an immediate start. */
  scheduleDowntime(req: DowntimeRequest): { id: number; events: MonitorEvent[] } {
    this.#entry(req.ref);
    if (!(req.end > req.start)) throw new Error('downtime must end after it starts');
    if (!req.fixed && !(req.duration !== undefined && req.duration > 0)) throw new Error('flexible downtime needs a duration');
    if (req.triggeredBy !== undefined && !this.#downtimes.has(req.triggeredBy)) throw new Error(`unknown triggering downtime ${req.triggeredBy}`);
    const id = this.#nextDowntime++;
    this.#downtimes.set(id, { ...req, id, startedAt: undefined });
    return { id, events: this.tick() };
  }

  /** Cancels a downtime (pending or running). */
  cancelDowntime(id: number): MonitorEvent[] {
    const d = this.#downtimes.get(id);
    if (d === undefined) return [];
    this.#downtimes.delete(id);
    const events: MonitorEvent[] = [];
    if (d.startedAt !== undefined) {
      const now = this.#clock.now();
      const e = this.#entry(d.ref);
      events.push({ kind: 'DOWNTIMECANCELLED', ref: e.ref, downtime: id, time: now });
      this.#notify(e, 'DOWNTIMECANCELLED', now, events);
    }
    return events;
  }

  downtimes(): Downtime[] {
    return [...this.#downtimes.values()].map((d) => ({ ...d }));
  }

  #inDowntime(key: string): boolean {
    for (const d of this.#downtimes.values()) if (d.startedAt !== undefined && refKey(d.ref) === key) return true;
    return false;
  }

  #start(d: Downtime, now: number, events: MonitorEvent[]): void {
    if (d.startedAt !== undefined) return;
    const e = this.#entry(d.ref);
    const before = this.#inDowntime(e.key);
    d.startedAt = now;
    events.push({ kind: 'DOWNTIMESTART', ref: e.ref, downtime: d.id, time: now });
    if (!before) this.#notify(e, 'DOWNTIMESTART', now, events);
    for (const child of this.#downtimes.values()) if (child.triggeredBy === d.id) this.#start(child, now, events);
  }

  #startFlexible(e: Entry, now: number, events: MonitorEvent[]): void {
    for (const d of this.#downtimes.values()) {
      if (!d.fixed && d.triggeredBy === undefined && d.startedAt === undefined && refKey(d.ref) === e.key && now >= d.start && now <= d.end) this.#start(d, now, events);
    }
  }

  /**
   * Starts and ends downtime as time passes; call it every few seconds (and it is
   * called by each check result path that needs it).
   */
  tick(): MonitorEvent[] {
    const now = this.#clock.now();
    const events: MonitorEvent[] = [];
    for (const d of this.#downtimes.values()) {
      if (d.startedAt === undefined) {
        if (d.triggeredBy !== undefined) {
          if (!this.#downtimes.has(d.triggeredBy)) this.#downtimes.delete(d.id);
          continue;
        }
        if (now >= d.end) {
          this.#downtimes.delete(d.id);
          continue;
        }
        if (now < d.start) continue;
        if (d.fixed) this.#start(d, now, events);
        else if (!isOkState(this.#entry(d.ref).status.state)) this.#start(d, now, events);
      }
    }
    for (const d of this.#downtimes.values()) {
      if (d.startedAt === undefined) continue;
      const endAt = d.fixed ? d.end : d.startedAt + (d.duration ?? 0);
      if (now < endAt) continue;
      this.#downtimes.delete(d.id);
      const e = this.#entry(d.ref);
      events.push({ kind: 'DOWNTIMEEND', ref: e.ref, downtime: d.id, time: now });
      if (!this.#inDowntime(e.key)) this.#notify(e, 'DOWNTIMEEND', now, events);
    }
    return events;
  }

  // -------------------------------------------------------------------------
  // State retention (Nagios retention.dat)

  /** The state to keep across a restart (a copy; src/monitor/state/retention.ts has the format). */
  exportState(): RetentionSnapshot {
    const checks: Record<string, RetainedStatus> = {};
    for (const e of this.#entries.values()) {
      const { ack, ...rest } = e.status;
      checks[e.key] = { ...rest, flapHistory: [...rest.flapHistory], notifiedOn: [...rest.notifiedOn], ...(ack !== undefined && { ack: { ...ack } }) };
    }
    const downtimes = [...this.#downtimes.values()].map(
      (d): RetainedDowntime => ({
        id: d.id,
        ref: { host: d.ref.host, ...(d.ref.service !== undefined && { service: d.ref.service }) },
        start: d.start,
        end: d.end,
        fixed: d.fixed,
        ...(d.duration !== undefined && { duration: d.duration }),
        ...(d.triggeredBy !== undefined && { triggeredBy: d.triggeredBy }),
        author: d.author,
        comment: d.comment,
        ...(d.startedAt !== undefined && { startedAt: d.startedAt }),
      }),
    );
    return { version: RETENTION_VERSION, saved: this.#clock.now(), nextDowntimeId: this.#nextDowntime, checks, downtimes };
  }

  /**
   * Restores a snapshot into this engine, built from the configuration of now and
   * not yet fed any result (the daemon's start, before the first check). Like Nagios
   * reading retention.dat: hosts and services no longer configured are dropped, and
   * so are downtimes that ended while the daemon was stopped or whose object or
   * trigger is gone. The rest is fitted to today's configuration: the attempt to
   * `max_check_attempts`, the next check to at most one interval from now, flapping
   * to whether flap detection is still on. Emits nothing: only the process changed.
   */
  importState(s: RetentionSnapshot): RetentionReport {
    const now = this.#clock.now();
    const report: RetentionReport = { restored: 0, unknown: [], invalid: [], downtimes: 0, expired: [], orphaned: [] };
    for (const [key, r] of Object.entries(s.checks)) {
      const e = this.#entries.get(key);
      if (e === undefined) {
        report.unknown.push(key);
        continue;
      }
      const allowed = e.kind === 'host' ? HOST_STATES : SERVICE_STATES;
      const wrong = [r.state, r.lastHardState, ...r.notifiedOn].find((x) => !allowed.includes(x));
      if (wrong !== undefined) {
        report.invalid.push(`${key}: ${wrong} is not a ${e.kind} state`);
        continue;
      }
      e.status = this.#fitted(e, r, now);
      report.restored++;
    }

    this.#downtimes.clear();
    for (const d of s.downtimes) {
      const e = this.#entries.get(refKey(d.ref));
      const name = `#${d.id} ${refKey(d.ref)}`;
      if (e === undefined) report.orphaned.push(`${name}: no longer in the configuration`);
      else if (!(d.end > d.start)) report.invalid.push(`downtime ${name}: ends before it starts`);
      else if (!d.fixed && d.duration === undefined) report.invalid.push(`downtime ${name}: flexible without a duration`);
      else if (this.#downtimes.has(d.id)) report.invalid.push(`downtime ${name}: a second downtime with this id`);
      // The end as tick() reckons it: a running flexible downtime lasts its duration.
      else if (now >= (d.startedAt === undefined || d.fixed ? d.end : d.startedAt + (d.duration ?? 0))) report.expired.push(name);
      else {
        this.#downtimes.set(d.id, {
          id: d.id,
          ref: e.ref,
          start: d.start,
          end: d.end,
          fixed: d.fixed,
          ...(d.duration !== undefined && { duration: d.duration }),
          ...(d.triggeredBy !== undefined && { triggeredBy: d.triggeredBy }),
          author: d.author,
          comment: d.comment,
          startedAt: d.startedAt,
        });
      }
    }
    // A pending triggered downtime waits for its trigger: without it, it would never start.
    for (let again = true; again; ) {
      again = false;
      for (const d of this.#downtimes.values()) {
        if (d.startedAt !== undefined || d.triggeredBy === undefined || this.#downtimes.has(d.triggeredBy)) continue;
        this.#downtimes.delete(d.id);
        report.orphaned.push(`#${d.id} ${refKey(d.ref)}: its triggering downtime #${d.triggeredBy} is gone`);
        again = true;
      }
    }
    report.downtimes = this.#downtimes.size;
    let next = Math.max(this.#nextDowntime, s.nextDowntimeId);
    for (const d of s.downtimes) next = Math.max(next, d.id + 1);
    this.#nextDowntime = next;
    return report;
  }

  /** A retained status fitted to the object's configuration of now. */
  #fitted(e: Entry, r: RetainedStatus, now: number): ObjectStatus {
    const okState: AnyState = e.kind === 'host' ? 'UP' : 'OK';
    const softProblem = r.stateType === 'SOFT' && r.state !== okState;
    // An older, shorter history: the oldest state stands for the ones before it (as initialHistory does).
    const history = [...Array<number>(Math.max(0, FLAP_HISTORY - r.flapHistory.length)).fill(r.flapHistory[0] ?? 0), ...r.flapHistory];
    // Flap detection turned off since: flapping would never end, and would hold notifications back for good.
    const flapping = e.flapEnabled && r.isFlapping;
    return {
      state: r.state,
      stateType: r.stateType,
      attempt: Math.min(r.attempt, e.maxAttempts),
      lastHardState: r.lastHardState,
      lastCheck: r.lastCheck,
      nextCheck: Math.min(r.nextCheck, now + (softProblem ? e.retryInterval : e.checkInterval)),
      lastStateChange: r.lastStateChange,
      lastHardStateChange: r.lastHardStateChange,
      lastTimeOk: r.lastTimeOk,
      output: r.output,
      flapHistory: history,
      isFlapping: flapping,
      percentStateChange: percentStateChange(history),
      ack: r.ack === undefined || r.state === okState ? undefined : { ...r.ack },
      notificationNumber: r.notificationNumber,
      lastNotification: r.lastNotification,
      nextNotification: r.nextNotification,
      noMoreNotifications: r.noMoreNotifications,
      notifiedOn: [...r.notifiedOn],
      recoveryHeld: r.recoveryHeld && flapping,
    };
  }
}
