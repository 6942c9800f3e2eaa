import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EscalationConfig } from '../../config/monitor-schema.ts';
import type { NotificationType } from '../state/types.ts';
import { createPeriods } from './period.ts';
import { notificationViability, recipients, type NotifyStatus, type NotifyTarget } from './rules.ts';

const MON_10 = Date.UTC(2026, 0, 5, 10, 0); // Monday 10:00 UTC
const SAT_10 = Date.UTC(2026, 0, 10, 10, 0);
const periods = createPeriods({ nights: { monday: [[0, 480]] } }, 'UTC');

const target: NotifyTarget = {
  kind: 'service',
  enabled: true,
  options: ['w', 'u', 'c', 'r', 'f', 's'],
  interval: 3_600_000,
  firstDelay: 0,
  period: '24x7',
  contacts: ['alice'],
  contactGroups: ['ops'],
  escalations: [],
};

const problem: NotifyStatus = {
  state: 'CRITICAL',
  stateType: 'HARD',
  acknowledged: false,
  flapping: false,
  inDowntime: false,
  hostProblem: false,
  hostInDowntime: false,
  dependencyFailed: false,
  notificationNumber: 0,
  nextNotification: 0,
  noMoreNotifications: false,
  notifiedOn: [],
  lastTimeOk: MON_10 - 60_000,
};

test('viability of problem and recovery notifications, filter by filter', () => {
  type Row = [string, NotificationType, Partial<NotifyTarget>, Partial<NotifyStatus>, string, number?];
  const rows: Row[] = [
    ['a hard problem', 'PROBLEM', {}, {}, 'ok'],
    ['notifications disabled', 'PROBLEM', { enabled: false }, {}, 'disabled'],
    ['outside the notification period', 'PROBLEM', { period: 'workhours' }, {}, 'period', SAT_10],
    ['inside workhours', 'PROBLEM', { period: 'workhours' }, {}, 'ok'],
    ['a custom period', 'PROBLEM', { period: 'nights' }, {}, 'period'],
    ['soft', 'PROBLEM', {}, { stateType: 'SOFT' }, 'soft'],
    ['acknowledged', 'PROBLEM', {}, { acknowledged: true }, 'acknowledged'],
    ['a failed dependency', 'PROBLEM', {}, { dependencyFailed: true }, 'dependency'],
    ['WARNING without w', 'PROBLEM', { options: ['c', 'r'] }, { state: 'WARNING' }, 'option'],
    ['UNKNOWN with u', 'PROBLEM', { options: ['u'] }, { state: 'UNKNOWN' }, 'ok'],
    ['first_notification_delay not over', 'PROBLEM', { firstDelay: 300_000 }, {}, 'first-delay'],
    ['first_notification_delay over', 'PROBLEM', { firstDelay: 300_000 }, { lastTimeOk: MON_10 - 300_000 }, 'ok'],
    ['flapping', 'PROBLEM', {}, { flapping: true }, 'flapping'],
    ['in downtime', 'PROBLEM', {}, { inDowntime: true }, 'downtime'],
    ['host in downtime', 'PROBLEM', {}, { hostInDowntime: true }, 'host-downtime'],
    ['host down', 'PROBLEM', {}, { hostProblem: true }, 'host-problem'],
    ['re-notification not due', 'PROBLEM', {}, { notificationNumber: 1, nextNotification: MON_10 + 1 }, 'interval'],
    ['re-notification due', 'PROBLEM', {}, { notificationNumber: 1, nextNotification: MON_10 }, 'ok'],
    ['interval 0: notified once', 'PROBLEM', {}, { notificationNumber: 1, noMoreNotifications: true }, 'once'],
    ['recovery of a notified problem', 'RECOVERY', {}, { state: 'OK', notifiedOn: ['CRITICAL'] }, 'ok'],
    ['recovery of a problem never notified', 'RECOVERY', {}, { state: 'OK' }, 'not-notified'],
    ['recovery without r', 'RECOVERY', { options: ['w', 'c'] }, { state: 'OK', notifiedOn: ['CRITICAL'] }, 'option'],
    ['recovery while acknowledged still goes out', 'RECOVERY', {}, { state: 'OK', notifiedOn: ['CRITICAL'], acknowledged: true }, 'ok'],
    ['recovery while flapping is held', 'RECOVERY', {}, { state: 'OK', notifiedOn: ['CRITICAL'], flapping: true }, 'flapping'],
    ['acknowledgement', 'ACKNOWLEDGEMENT', {}, { acknowledged: true }, 'ok'],
    ['acknowledgement of OK', 'ACKNOWLEDGEMENT', {}, { state: 'OK' }, 'ok-state'],
    ['flapping start without f', 'FLAPPINGSTART', { options: ['c'] }, {}, 'option'],
    ['flapping start in downtime', 'FLAPPINGSTART', {}, { inDowntime: true }, 'downtime'],
    ['downtime start with s', 'DOWNTIMESTART', {}, { state: 'OK' }, 'ok'],
    ['downtime end without s', 'DOWNTIMEEND', { options: ['w'] }, {}, 'option'],
  ];
  for (const [what, type, t, s, want, now] of rows) {
    const v = notificationViability(type, { ...target, ...t }, { ...problem, ...s }, now ?? MON_10, periods);
    assert.equal(v.ok ? 'ok' : v.reason, want, what);
  }
});

test('host states map to d / u / r', () => {
  const host: NotifyTarget = { ...target, kind: 'host', options: ['d', 'r'] };
  const table: Array<[NotificationType, NotifyStatus['state'], string]> = [
    ['PROBLEM', 'DOWN', 'ok'],
    ['PROBLEM', 'UNREACHABLE', 'option'],
  ];
  for (const [type, state, want] of table) {
    const v = notificationViability(type, host, { ...problem, state }, MON_10, periods);
    assert.equal(v.ok ? 'ok' : v.reason, want, state);
  }
});

function esc(e: Partial<EscalationConfig>): EscalationConfig {
  return { first_notification: 3, last_notification: 5, contacts: ['boss'], contact_groups: [], escalation_period: '24x7', escalation_options: ['w', 'u', 'c', 'r'], ...e };
}

test('recipients: own contacts and groups, escalations by number, contact options and periods', () => {
  const dir = {
    contacts: {
      alice: { service_notification_options: ['w', 'u', 'c', 'r', 'f', 's'], host_notification_options: ['d'], notification_period: '24x7' },
      bob: { service_notification_options: ['c'], host_notification_options: ['d'], notification_period: '24x7' },
      night: { service_notification_options: ['c'], host_notification_options: [], notification_period: 'nights' },
      boss: { service_notification_options: ['c', 'r'], host_notification_options: [], notification_period: '24x7' },
      cto: { service_notification_options: ['c'], host_notification_options: [], notification_period: '24x7' },
    },
    groups: { ops: ['bob', 'night'] },
  };
  type Row = [string, NotificationType, string, number, EscalationConfig[], string, number];
  const rows: Row[] = [
    ['CRITICAL #1', 'PROBLEM', 'CRITICAL', 1, [], 'alice,bob', 3_600_000], // night: outside its period
    ['WARNING #1: bob only takes c', 'PROBLEM', 'WARNING', 1, [], 'alice', 3_600_000],
    ['escalated #3', 'PROBLEM', 'CRITICAL', 3, [esc({})], 'boss', 3_600_000],
    ['past the escalation', 'PROBLEM', 'CRITICAL', 6, [esc({})], 'alice,bob', 3_600_000],
    ['two escalations: union, lowest interval', 'PROBLEM', 'CRITICAL', 4, [esc({ notification_interval: 1_800_000 }), esc({ first_notification: 4, last_notification: 0, contacts: ['cto'], notification_interval: 600_000 })], 'boss,cto', 600_000],
    ['escalation options exclude WARNING', 'PROBLEM', 'WARNING', 3, [esc({ escalation_options: ['c'] })], 'alice', 3_600_000],
    ['recovery escalated by the last number', 'RECOVERY', 'OK', 3, [esc({})], 'boss', 3_600_000],
    ['escalation outside its period', 'PROBLEM', 'CRITICAL', 3, [esc({ escalation_period: 'nights' })], 'alice,bob', 3_600_000],
  ];
  for (const [what, type, state, n, escalations, want, interval] of rows) {
    const r = recipients(type, { ...target, escalations }, state as NotifyStatus['state'], n, MON_10, periods, dir);
    assert.equal(r.contacts.join(','), want, what);
    assert.equal(r.interval, interval, `${what}: interval`);
  }
});

test('time periods in a time zone', () => {
  const paris = createPeriods({}, 'Europe/Paris');
  // 16:30 UTC on a Monday in January is 17:30 in Paris: after workhours.
  assert.equal(paris.contains('workhours', Date.UTC(2026, 0, 5, 16, 30)), false);
  assert.equal(periods.contains('workhours', Date.UTC(2026, 0, 5, 16, 30)), true);
  assert.equal(periods.contains('none', MON_10), false);
  assert.equal(periods.contains('24x7', SAT_10), true);
  assert.equal(periods.contains('nights', Date.UTC(2026, 0, 5, 7, 59)), true);
  assert.equal(periods.contains('nights', Date.UTC(2026, 0, 5, 8, 0)), false);
});
