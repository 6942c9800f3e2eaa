import assert from 'node:assert/strict';
import { test } from 'node:test';
import { monitorSchema } from '../../config/monitor-schema.ts';
import type { CheckState } from '../result.ts';
import { MonitorEngine } from './engine.ts';
import type { MonitorEvent } from './types.ts';

const T0 = Date.UTC(2026, 0, 5, 10, 0, 0); // a Monday, 10:00 UTC

class Wall {
  t = T0;
  now(): number {
    return this.t;
  }
}

function engine(monitor: unknown) {
  const clock = new Wall();
  const cfg = monitorSchema.parse({ timezone: 'UTC', ...(monitor as object) });
  return { clock, eng: new MonitorEngine(cfg, clock) };
}

const check = { builtin: 'tcp', port: 80 };

/** Notifications as `TYPE#number STATE → contacts`. */
function notes(events: MonitorEvent[]): string[] {
  return events.flatMap((e) => (e.kind === 'NOTIFICATION' ? [`${e.type}#${e.number} ${e.state} → ${e.contacts.join(',')}`] : []));
}

function kinds(events: MonitorEvent[]): string[] {
  return events.filter((e) => e.kind !== 'NOTIFICATION' && e.kind !== 'STATE').map((e) => e.kind);
}

const SVC = { contacts: { alice: {} } };

test('a service: OK → soft CRITICAL → hard CRITICAL → notification → flapping (suppressed) → recovery → recovery notification', () => {
  const { clock, eng } = engine({
    ...SVC,
    hosts: { web1: { address: '127.0.0.1', services: { http: { check, contacts: ['alice'] } } } },
  });
  // [result, state, type, attempt, next check in s, notifications, other events]
  type Row = [CheckState, string, 'SOFT' | 'HARD', number, number, string[], string[]];
  const rows: Row[] = [
    ['OK', 'OK', 'HARD', 1, 300, [], []],
    ['CRITICAL', 'CRITICAL', 'SOFT', 1, 60, [], []],
    ['CRITICAL', 'CRITICAL', 'SOFT', 2, 60, [], []],
    ['CRITICAL', 'CRITICAL', 'HARD', 3, 300, ['PROBLEM#1 CRITICAL → alice'], []],
    ['CRITICAL', 'CRITICAL', 'HARD', 3, 300, [], []], // 5 min later: within notification_interval (60 min)
    // Flapping: hard changes between problem states. The first changes notify (6.25 → 12.4 → 18.4 %),
    // the fourth crosses the high threshold (24.2 % ≥ 20 %): FLAPPINGSTART, and from then on nothing.
    ['WARNING', 'WARNING', 'HARD', 3, 300, ['PROBLEM#2 WARNING → alice'], []],
    ['CRITICAL', 'CRITICAL', 'HARD', 3, 300, ['PROBLEM#3 CRITICAL → alice'], []],
    ['WARNING', 'WARNING', 'HARD', 3, 300, ['FLAPPINGSTART#3 WARNING → alice'], ['FLAPPINGSTART']],
    ['CRITICAL', 'CRITICAL', 'HARD', 3, 300, [], []],
    ['OK', 'OK', 'HARD', 1, 300, [], []], // hard recovery while flapping: held
  ];
  // 18 stable results: the changes age out of the 21-state window, but not below 5 % yet.
  for (let i = 0; i < 18; i++) rows.push(['OK', 'OK', 'HARD', 1, 300, [], []]);
  // The 19th leaves one change at the oldest position (0.75 / 20 = 3.75 % ≤ 5 %): flapping stops, the held recovery goes out.
  rows.push(['OK', 'OK', 'HARD', 1, 300, ['FLAPPINGSTOP#3 OK → alice', 'RECOVERY#3 OK → alice'], ['FLAPPINGSTOP']]);
  rows.push(['OK', 'OK', 'HARD', 1, 300, [], []]);
  rows.push(['CRITICAL', 'CRITICAL', 'SOFT', 1, 60, [], []]); // a new problem starts counting from 1

  rows.forEach(([result, state, type, attempt, next, wantNotes, wantEvents], i) => {
    const ev = eng.serviceResult('web1', 'http', { state: result, summary: `${result} row ${i}` });
    const s = eng.status({ host: 'web1', service: 'http' });
    const where = `row ${i} (${result})`;
    assert.deepEqual([s.state, s.stateType, s.attempt], [state, type, attempt], where);
    assert.equal(s.nextCheck - clock.t, next * 1000, `${where}: next check`);
    assert.deepEqual(notes(ev), wantNotes, where);
    assert.deepEqual(kinds(ev), wantEvents, where);
    clock.t = s.nextCheck;
  });
});

test('a soft recovery notifies nobody and stays SOFT for one result', () => {
  const { eng } = engine({ ...SVC, hosts: { h: { address: '127.0.0.1', services: { s: { check, contacts: ['alice'] } } } } });
  const table: Array<[CheckState, string, string[]]> = [
    ['WARNING', 'WARNING SOFT 1', ['STATE']],
    ['OK', 'OK SOFT 1', ['STATE']],
    ['OK', 'OK HARD 1', []],
  ];
  for (const [r, want, evs] of table) {
    const ev = eng.serviceResult('h', 's', { state: r, summary: '' });
    const s = eng.status({ host: 'h', service: 's' });
    assert.equal(`${s.state} ${s.stateType} ${s.attempt}`, want);
    assert.deepEqual(ev.map((e) => e.kind), evs);
  }
});

test('re-notification every notification_interval; 0 notifies once; first_notification_delay counts from the last OK', () => {
  const { clock, eng } = engine({
    ...SVC,
    hosts: {
      h: {
        address: '127.0.0.1',
        services: {
          every: { check, contacts: ['alice'], max_check_attempts: 1, notification_interval: '30m' },
          once: { check, contacts: ['alice'], max_check_attempts: 1, notification_interval: 0 },
          later: { check, contacts: ['alice'], max_check_attempts: 1, first_notification_delay: '10m' },
        },
      },
    },
  });
  const table: Array<[number, string, string[]]> = [
    [0, 'every', ['PROBLEM#1 CRITICAL → alice']],
    [0, 'once', ['PROBLEM#1 CRITICAL → alice']],
    [0, 'later', []],
    [29, 'every', []],
    [29, 'once', []],
    [29, 'later', ['PROBLEM#1 CRITICAL → alice']],
    [31, 'every', ['PROBLEM#2 CRITICAL → alice']],
    [31, 'once', []],
    [60, 'every', []],
    [61, 'every', ['PROBLEM#3 CRITICAL → alice']],
  ];
  for (const [minute, svc, want] of table) {
    clock.t = T0 + minute * 60_000;
    assert.deepEqual(notes(eng.serviceResult('h', svc, { state: 'CRITICAL', summary: 'down' })), want, `${svc} at ${minute} min`);
  }
});

test('acknowledgements: non-sticky ends on any state change, sticky only on OK; recovery still notifies', () => {
  // Flap detection off: OK → CRITICAL → WARNING → CRITICAL → OK is a flapping pattern (24 %).
  const { clock, eng } = engine({ ...SVC, hosts: { h: { address: '127.0.0.1', services: { s: { check, contacts: ['alice'], max_check_attempts: 1, flap_detection: false } } } } });
  const ref = { host: 'h', service: 's' };
  const res = (state: CheckState) => eng.serviceResult('h', 's', { state, summary: state });
  assert.throws(() => eng.acknowledge(ref, { author: 'bob', comment: 'x' }), /only a problem can be acknowledged/);
  assert.deepEqual(notes(res('CRITICAL')), ['PROBLEM#1 CRITICAL → alice']);
  const ack = eng.acknowledge(ref, { author: 'bob', comment: 'on it' });
  assert.deepEqual(kinds(ack), ['ACKNOWLEDGEMENT']);
  assert.deepEqual(notes(ack), ['ACKNOWLEDGEMENT#1 CRITICAL → alice']);
  const n = ack.find((e) => e.kind === 'NOTIFICATION');
  assert.ok(n && n.kind === 'NOTIFICATION' && n.author === 'bob' && n.comment === 'on it');
  clock.t += 2 * 3_600_000;
  assert.deepEqual(notes(res('CRITICAL')), [], 'acknowledged: no re-notification');
  const w = res('WARNING');
  assert.deepEqual(kinds(w), ['ACKREMOVED'], 'a non-sticky ack ends with the state change');
  assert.deepEqual(notes(w), ['PROBLEM#2 WARNING → alice']);
  eng.acknowledge(ref, { author: 'bob', comment: 'sticky', sticky: true, notify: false });
  const c = res('CRITICAL');
  assert.deepEqual([kinds(c), notes(c)], [[], []], 'a sticky ack survives WARNING → CRITICAL');
  assert.equal(eng.status(ref).ack?.sticky, true);
  const ok = res('OK');
  assert.deepEqual(kinds(ok), ['ACKREMOVED']);
  assert.deepEqual(notes(ok), ['RECOVERY#2 OK → alice']);
});

test('downtime: fixed silences problems and notifies start / end; flexible starts on a problem; triggered follows its trigger', () => {
  const { clock, eng } = engine({
    ...SVC,
    hosts: { h: { address: '127.0.0.1', contacts: ['alice'], services: { s: { check, contacts: ['alice'], max_check_attempts: 1 }, t: { check, contacts: ['alice'], max_check_attempts: 1 } } } },
  });
  const s = { host: 'h', service: 's' };
  const t = { host: 'h', service: 't' };
  const min = 60_000;
  const fixed = eng.scheduleDowntime({ ref: s, start: T0 + 10 * min, end: T0 + 40 * min, fixed: true, author: 'ops', comment: 'upgrade' });
  assert.deepEqual(fixed.events, [], 'not started yet');
  clock.t = T0 + 10 * min;
  assert.deepEqual(notes(eng.tick()), ['DOWNTIMESTART#0 OK → alice']);
  assert.equal(eng.status(s).inDowntime, true);
  assert.deepEqual(notes(eng.serviceResult('h', 's', { state: 'CRITICAL', summary: 'stopped' })), [], 'in downtime');
  clock.t = T0 + 40 * min;
  const end = eng.tick();
  assert.deepEqual([kinds(end), notes(end)], [['DOWNTIMEEND'], ['DOWNTIMEEND#0 CRITICAL → alice']]);
  clock.t += 5 * min;
  assert.deepEqual(notes(eng.serviceResult('h', 's', { state: 'CRITICAL', summary: 'still' })), ['PROBLEM#1 CRITICAL → alice'], 'the problem notifies after the downtime');

  // Flexible: a window of an hour, 10 minutes from the first problem in it.
  const flex = eng.scheduleDowntime({ ref: t, start: clock.t, end: clock.t + 60 * min, fixed: false, duration: 10 * min, author: 'ops', comment: 'maybe' });
  assert.deepEqual(flex.events, []);
  clock.t += 5 * min;
  assert.deepEqual(eng.serviceResult('h', 't', { state: 'OK', summary: '' }), []);
  clock.t += 5 * min;
  const p = eng.serviceResult('h', 't', { state: 'CRITICAL', summary: 'x' });
  assert.deepEqual([kinds(p), notes(p)], [['DOWNTIMESTART'], ['DOWNTIMESTART#0 CRITICAL → alice']]);
  clock.t += 9 * min;
  assert.deepEqual(eng.tick(), []);
  clock.t += min;
  assert.deepEqual(kinds(eng.tick()), ['DOWNTIMEEND']);

  // Triggered: the service's downtime starts with the host's.
  const hostDt = eng.scheduleDowntime({ ref: { host: 'h' }, start: clock.t + min, end: clock.t + 20 * min, fixed: true, author: 'ops', comment: 'rack' });
  eng.scheduleDowntime({ ref: t, start: clock.t, end: clock.t + 30 * min, fixed: true, triggeredBy: hostDt.id, author: 'ops', comment: 'with the host' });
  assert.equal(eng.status(t).inDowntime, false);
  clock.t += min;
  const started = eng.tick();
  assert.deepEqual(started.filter((e) => e.kind === 'DOWNTIMESTART').map((e) => e.ref.service ?? e.ref.host), ['h', 't']);
  assert.equal(eng.status(t).inDowntime, true);
  assert.deepEqual(kinds(eng.cancelDowntime(hostDt.id)), ['DOWNTIMECANCELLED']);
});

test('a host DOWN: its services go HARD at once and do not notify; a child behind it is UNREACHABLE', () => {
  const { eng } = engine({
    ...SVC,
    hosts: {
      sw1: { address: '10.0.0.1', contacts: ['alice'], max_check_attempts: 1 },
      web1: {
        address: '10.0.0.2',
        parents: ['sw1'],
        contacts: ['alice'],
        max_check_attempts: 2,
        notification_options: 'd,r',
        services: { http: { check, contacts: ['alice'] }, disk: { check, contacts: ['alice'] } },
      },
    },
  });
  assert.deepEqual(notes(eng.hostResult('sw1', { state: 'CRITICAL', summary: 'no route' })), ['PROBLEM#1 DOWN → alice']);
  const w = eng.hostResult('web1', { state: 'CRITICAL', summary: 'timeout' });
  assert.equal(eng.status({ host: 'web1' }).state, 'UNREACHABLE');
  assert.deepEqual(notes(w), []);
  eng.hostResult('web1', { state: 'CRITICAL', summary: 'timeout' });
  assert.equal(`${eng.status({ host: 'web1' }).state} ${eng.status({ host: 'web1' }).stateType}`, 'UNREACHABLE HARD');
  for (const svc of ['http', 'disk']) {
    const ev = eng.serviceResult('web1', svc, { state: 'CRITICAL', summary: 'refused' });
    const s = eng.status({ host: 'web1', service: svc });
    assert.equal(`${s.state} ${s.stateType} ${s.attempt}`, 'CRITICAL HARD 1', svc);
    assert.deepEqual(notes(ev), [], `${svc}: no alert storm`);
  }
  // The switch comes back: web1 is UP again, its service problems are now notified on their next check.
  assert.deepEqual(notes(eng.hostResult('sw1', { state: 'OK', summary: 'ok' })), ['RECOVERY#1 UP → alice']);
  assert.deepEqual(notes(eng.hostResult('web1', { state: 'OK', summary: 'ok' })), [], 'UNREACHABLE was never notified: no recovery');
  assert.deepEqual(notes(eng.serviceResult('web1', 'http', { state: 'CRITICAL', summary: 'refused' })), ['PROBLEM#1 CRITICAL → alice']);
  // With a parent UP, a failing host is DOWN (not UNREACHABLE).
  eng.hostResult('web1', { state: 'UNKNOWN', summary: '?' });
  assert.equal(eng.status({ host: 'web1' }).state, 'DOWN');
});

test('service dependencies suppress notifications while the master fails', () => {
  const { eng } = engine({
    ...SVC,
    hosts: {
      db: { address: '10.0.0.5', services: { mysql: { check, contacts: ['alice'], max_check_attempts: 1 } } },
      web: { address: '10.0.0.6', services: { app: { check, contacts: ['alice'], max_check_attempts: 1, depends_on: ['db/mysql'] } } },
    },
  });
  assert.deepEqual(notes(eng.serviceResult('db', 'mysql', { state: 'CRITICAL', summary: 'gone' })), ['PROBLEM#1 CRITICAL → alice']);
  assert.deepEqual(notes(eng.serviceResult('web', 'app', { state: 'CRITICAL', summary: 'db error' })), []);
  assert.deepEqual(notes(eng.serviceResult('db', 'mysql', { state: 'OK', summary: 'back' })), ['RECOVERY#1 OK → alice']);
  assert.deepEqual(notes(eng.serviceResult('web', 'app', { state: 'CRITICAL', summary: 'still broken' })), ['PROBLEM#1 CRITICAL → alice']);
});

test('escalations: notification 3 and later go to the escalation contacts at their interval', () => {
  const { clock, eng } = engine({
    contacts: { alice: {}, boss: {} },
    hosts: {
      h: {
        address: '127.0.0.1',
        services: { s: { check, contacts: ['alice'], max_check_attempts: 1, notification_interval: '10m', escalations: [{ first_notification: 3, last_notification: 0, contacts: ['boss'], notification_interval: '30m' }] } },
      },
    },
  });
  const table: Array<[number, string[]]> = [
    [0, ['PROBLEM#1 CRITICAL → alice']],
    [10, ['PROBLEM#2 CRITICAL → alice']],
    [20, ['PROBLEM#3 CRITICAL → boss']],
    [30, []],
    [50, ['PROBLEM#4 CRITICAL → boss']],
  ];
  for (const [m, want] of table) {
    clock.t = T0 + m * 60_000;
    assert.deepEqual(notes(eng.serviceResult('h', 's', { state: 'CRITICAL', summary: '' })), want, `minute ${m}`);
  }
  clock.t += 60_000;
  assert.deepEqual(notes(eng.serviceResult('h', 's', { state: 'OK', summary: '' })), ['RECOVERY#4 OK → boss']);
});
