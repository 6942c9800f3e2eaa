/**
 * Whether a notification goes out, and to whom: Nagios' notification logic (Nagios
 * Core docs "Notifications", "Notification Escalations"; notifications.c
 * `check_service_notification_viability`), pure and tested from tables.
 *
 * Order of the filters, as Nagios applies them: notifications enabled → the object's
 * notification period → per type (acknowledgement: the object is not OK; flapping:
 * option f and no downtime; downtime: option s) → for problems and recoveries: not a
 * soft state, not acknowledged, no failed dependency, the option for the state (w u c
 * / d u, r for recovery), a recovery only when the problem was notified,
 * `first_notification_delay` since the last OK, not flapping, no downtime (own or
 * the host's), the host UP (services), then the re-notification interval.
 */
import type { EscalationConfig } from '../../config/monitor-schema.ts';
import type { AnyState, NotificationType, StateType } from '../state/types.ts';
import type { Periods } from './period.ts';

/** What the rules read from an object's configuration. */
export interface NotifyTarget {
  kind: 'host' | 'service';
  enabled: boolean;
  options: readonly string[];
  /** ms; 0 = notify once. */
  interval: number;
  /** ms */
  firstDelay: number;
  period: string;
  contacts: readonly string[];
  contactGroups: readonly string[];
  escalations: readonly EscalationConfig[];
}

/** What the rules read from an object's status (and its surroundings). */
export interface NotifyStatus {
  state: AnyState;
  stateType: StateType;
  acknowledged: boolean;
  flapping: boolean;
  inDowntime: boolean;
  /** Services: the host is DOWN or UNREACHABLE. */
  hostProblem: boolean;
  /** Services: the host is in scheduled downtime. */
  hostInDowntime: boolean;
  /** Services: a service it depends on is in a failure state of the dependency. */
  dependencyFailed: boolean;
  notificationNumber: number;
  nextNotification: number;
  noMoreNotifications: boolean;
  notifiedOn: readonly AnyState[];
  lastTimeOk: number;
}

export type Verdict = { ok: true } | { ok: false; reason: SuppressReason };

export type SuppressReason =
  | 'disabled'
  | 'period'
  | 'ok-state'
  | 'option'
  | 'soft'
  | 'acknowledged'
  | 'dependency'
  | 'not-notified'
  | 'first-delay'
  | 'flapping'
  | 'downtime'
  | 'host-downtime'
  | 'host-problem'
  | 'interval'
  | 'once';

/** The option letter of a state: w u c for services, d u for hosts, r for OK / UP (recovery). */
export function optionOf(state: AnyState): string {
  switch (state) {
    case 'WARNING':
      return 'w';
    case 'UNKNOWN':
    case 'UNREACHABLE':
      return 'u';
    case 'CRITICAL':
      return 'c';
    case 'DOWN':
      return 'd';
    default:
      return 'r';
  }
}

export function isOkState(s: AnyState): boolean {
  return s === 'OK' || s === 'UP';
}

const no = (reason: SuppressReason): Verdict => ({ ok: false, reason });
const yes: Verdict = { ok: true };

/** Whether a notification of `type` for the object goes out now (before choosing contacts). */
export function notificationViability(type: NotificationType, t: NotifyTarget, s: NotifyStatus, now: number, periods: Periods): Verdict {
  if (!t.enabled) return no('disabled');
  if (!periods.contains(t.period, now)) return no('period');
  switch (type) {
    case 'ACKNOWLEDGEMENT':
      return isOkState(s.state) ? no('ok-state') : yes;
    case 'FLAPPINGSTART':
    case 'FLAPPINGSTOP':
      if (!t.options.includes('f')) return no('option');
      return s.inDowntime || s.hostInDowntime ? no('downtime') : yes;
    case 'DOWNTIMESTART':
    case 'DOWNTIMEEND':
    case 'DOWNTIMECANCELLED':
      return t.options.includes('s') ? yes : no('option');
    case 'PROBLEM':
    case 'RECOVERY':
      break;
  }
  const recovery = type === 'RECOVERY';
  if (s.stateType === 'SOFT') return no('soft');
  if (!recovery && s.acknowledged) return no('acknowledged');
  if (s.dependencyFailed) return no('dependency');
  if (!t.options.includes(optionOf(s.state))) return no('option');
  if (recovery && s.notifiedOn.length === 0) return no('not-notified');
  if (!recovery && s.notificationNumber === 0 && t.firstDelay > 0 && now < s.lastTimeOk + t.firstDelay) return no('first-delay');
  if (s.flapping) return no('flapping');
  if (s.inDowntime) return no('downtime');
  if (s.hostInDowntime) return no('host-downtime');
  if (s.hostProblem) return no('host-problem');
  if (!recovery && s.notificationNumber > 0) {
    if (s.noMoreNotifications) return no('once');
    if (now < s.nextNotification) return no('interval');
  }
  return yes;
}

/** A contact as the rules see it. */
export interface NotifyContact {
  service_notification_options: readonly string[];
  host_notification_options: readonly string[];
  notification_period: string;
}

export interface Directory {
  contacts: Readonly<Record<string, NotifyContact>>;
  groups: Readonly<Record<string, readonly string[]>>;
}

export interface Recipients {
  contacts: string[];
  /** Escalated: the contacts come from escalations. */
  escalated: boolean;
  /** Re-notification interval after this notification, ms (0 = no more). */
  interval: number;
}

function expand(contacts: readonly string[], groups: readonly string[], dir: Directory, into: Set<string>): void {
  for (const c of contacts) into.add(c);
  for (const g of groups) for (const c of dir.groups[g] ?? []) into.add(c);
}

/**
 * Who gets notification number `number` (Nagios escalations): the contacts of every
 * escalation whose range covers the number, whose period contains now and whose
 * options include the state, instead of the object's own contacts; then each
 * contact's own options and period filter. The re-notification interval is the
 * smallest of the matching escalations' (Nagios uses the lowest).
 */
export function recipients(type: NotificationType, t: NotifyTarget, state: AnyState, number: number, now: number, periods: Periods, dir: Directory): Recipients {
  const letter = type === 'RECOVERY' ? 'r' : optionOf(state);
  const matching = t.escalations.filter(
    (e) =>
      number >= e.first_notification &&
      (e.last_notification === 0 || number <= e.last_notification) &&
      periods.contains(e.escalation_period, now) &&
      (type !== 'PROBLEM' && type !== 'RECOVERY' ? true : e.escalation_options.includes(letter)),
  );
  const chosen = new Set<string>();
  let interval = t.interval;
  if (matching.length > 0) {
    for (const e of matching) expand(e.contacts, e.contact_groups, dir, chosen);
    interval = Math.min(...matching.map((e) => e.notification_interval ?? t.interval));
  } else {
    expand(t.contacts, t.contactGroups, dir, chosen);
  }
  const out: string[] = [];
  for (const name of chosen) {
    const c = dir.contacts[name];
    if (c === undefined) continue;
    if (!periods.contains(c.notification_period, now)) continue;
    const opts = t.kind === 'host' ? c.host_notification_options : c.service_notification_options;
    const need = type === 'PROBLEM' ? optionOf(state) : type === 'RECOVERY' ? 'r' : type.startsWith('FLAPPING') ? 'f' : type.startsWith('DOWNTIME') ? 's' : undefined;
    if (need !== undefined && !opts.includes(need)) continue;
    out.push(name);
  }
  out.sort();
  return { contacts: out, escalated: matching.length > 0, interval };
}
