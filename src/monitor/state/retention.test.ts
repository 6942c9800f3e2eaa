import assert from 'node:assert/strict';
import { test } from 'node:test';
import { monitorSchema } from '../../config/monitor-schema.ts';
import type { CheckState } from '../result.ts';
import { MonitorEngine, type RetentionReport } from './engine.ts';
import { formatRetention, parseRetention, RETENTION_VERSION, type RetentionSnapshot } from './retention.ts';
import type { MonitorEvent } from './types.ts';

const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);
const MIN = 60_000;

class Wall {
  t = T0;
  now(): number {
    return this.t;
  }
}

const check = { builtin: 'tcp', port: 80 };

/** A host `h` with services `s` (3 attempts) and `t` (1 attempt), notifying alice; `change` edits the config. */
function config(change: (m: Record<string, any>) => void = () => {}) {
  const m: Record<string, any> = {
    timezone: 'UTC',
    contacts: { alice: {} },
    hosts: {
      h: {
        address: '127.0.0.1',
        contacts: ['alice'],
        services: {
          s: { check, contacts: ['alice'] },
          t: { check, contacts: ['alice'], max_check_attempts: 1 },
        },
      },
    },
  };
  change(m);
  return monitorSchema.parse(m);
}

function engine(change?: (m: Record<string, any>) => void) {
  const clock = new Wall();
  return { clock, eng: new MonitorEngine(config(change), clock) };
}

/**
 * Stops the daemon (export, through the file's text) and starts it again `gapMs`
 * later, maybe with another configuration: the new engine and what was restored.
 */
function restart(eng: MonitorEngine, clock: Wall, gapMs: number, change?: (m: Record<string, any>) => void): { eng: MonitorEngine; report: RetentionReport } {
  const text = formatRetention(eng.exportState());
  const parsed = parseRetention(text);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
  clock.t += gapMs;
  const next = new MonitorEngine(config(change), clock);
  return { eng: next, report: next.importState(parsed.snapshot) };
}

/** Notifications as `TYPE#number STATE`, other events by kind (state lines left out). */
function seen(events: MonitorEvent[]): string[] {
  return events.filter((e) => e.kind !== 'STATE').map((e) => (e.kind === 'NOTIFICATION' ? `${e.type}#${e.number} ${e.state}` : e.kind));
}

const S = { host: 'h', service: 's' };
const T = { host: 'h', service: 't' };

function result(eng: MonitorEngine, svc: 's' | 't', state: CheckState): MonitorEvent[] {
  return eng.serviceResult('h', svc, { state, summary: `${state} ${svc}` });
}

test('the snapshot survives the file: export → text → parse → import gives the same state', () => {
  const { clock, eng } = engine();
  result(eng, 's', 'CRITICAL');
  result(eng, 't', 'CRITICAL');
  eng.acknowledge(T, { author: 'bob', comment: 'on it', sticky: true, notify: false });
  const fixed = eng.scheduleDowntime({ ref: { host: 'h' }, start: T0 + 10 * MIN, end: T0 + 70 * MIN, fixed: true, author: 'ops', comment: 'rack' });
  eng.scheduleDowntime({ ref: S, start: T0, end: T0 + 60 * MIN, fixed: false, duration: 20 * MIN, triggeredBy: fixed.id, author: 'ops', comment: 'with the rack' });
  const before = eng.exportState();
  assert.equal(before.version, RETENTION_VERSION);
  assert.deepEqual(Object.keys(before.checks), ['h', 'h/s', 'h/t']);
  const { eng: after, report } = restart(eng, clock, 0);
  assert.deepEqual(report, { restored: 3, unknown: [], invalid: [], downtimes: 2, expired: [], orphaned: [] });
  assert.deepEqual(after.exportState(), before);
  assert.deepEqual(after.snapshot(), eng.snapshot());
  assert.deepEqual(after.downtimes(), eng.downtimes());
});

interface Case {
  name: string;
  /** Before the restart (the clock starts at T0). */
  before(eng: MonitorEngine, clock: Wall): void;
  /** How long the daemon is stopped, ms. */
  gap: number;
  change?: (m: Record<string, any>) => void;
  /** After the restart: assertions on the restored engine. */
  after(eng: MonitorEngine, clock: Wall, report: RetentionReport): void;
}

const cases: Case[] = [
  {
    name: 'a soft problem at attempt 2 of 3 continues at attempt 3 (HARD, notified)',
    before(eng, clock) {
      result(eng, 's', 'CRITICAL');
      clock.t += MIN;
      result(eng, 's', 'CRITICAL');
      assert.deepEqual([eng.status(S).stateType, eng.status(S).attempt], ['SOFT', 2]);
    },
    gap: 30_000,
    after(eng, clock) {
      const st = eng.status(S);
      assert.deepEqual([st.state, st.stateType, st.attempt, st.output], ['CRITICAL', 'SOFT', 2, 'CRITICAL s']);
      assert.equal(st.nextCheck, T0 + 2 * MIN, 'the retry is still due one retry_interval after the last check');
      assert.ok(!eng.due(clock.t).some((r) => r.service === 's'), 'not due yet');
      clock.t = st.nextCheck;
      const ev = result(eng, 's', 'CRITICAL');
      assert.deepEqual([eng.status(S).stateType, eng.status(S).attempt], ['HARD', 3]);
      assert.deepEqual(seen(ev), ['PROBLEM#1 CRITICAL']);
    },
  },
  {
    name: 'a notified problem recovers after the restart: the recovery is sent (numbered like the problem)',
    before(eng) {
      assert.deepEqual(seen(result(eng, 't', 'CRITICAL')), ['PROBLEM#1 CRITICAL']);
    },
    gap: 5 * MIN,
    after(eng) {
      assert.deepEqual(eng.status(T).notifiedOn, ['CRITICAL']);
      assert.deepEqual(seen(result(eng, 't', 'OK')), ['RECOVERY#1 OK']);
    },
  },
  {
    name: 'a hard problem still failing after the restart is not notified again before notification_interval',
    before(eng) {
      result(eng, 't', 'CRITICAL');
    },
    gap: 10 * MIN,
    after(eng, clock) {
      assert.deepEqual(seen(result(eng, 't', 'CRITICAL')), []);
      clock.t = T0 + 60 * MIN;
      assert.deepEqual(seen(result(eng, 't', 'CRITICAL')), ['PROBLEM#2 CRITICAL'], 'the re-notification numbering goes on');
    },
  },
  {
    name: 'a sticky acknowledgement is kept (author, comment) and survives WARNING; no re-notification',
    before(eng) {
      result(eng, 't', 'CRITICAL');
      eng.acknowledge(T, { author: 'bob', comment: 'disk ordered', sticky: true });
    },
    gap: 2 * 60 * MIN,
    after(eng) {
      assert.deepEqual(eng.status(T).ack, { sticky: true, author: 'bob', comment: 'disk ordered', time: T0 });
      assert.deepEqual(seen(result(eng, 't', 'CRITICAL')), [], 'acknowledged: silent after notification_interval');
      assert.deepEqual(seen(result(eng, 't', 'WARNING')), []);
      assert.equal(eng.status(T).ack?.comment, 'disk ordered');
      assert.deepEqual(seen(result(eng, 't', 'OK')), ['ACKREMOVED', 'RECOVERY#1 OK']);
    },
  },
  {
    name: 'a non-sticky acknowledgement is kept until the next state change',
    before(eng) {
      result(eng, 't', 'CRITICAL');
      eng.acknowledge(T, { author: 'bob', comment: 'looking', notify: false });
    },
    gap: 2 * 60 * MIN,
    after(eng) {
      assert.deepEqual(eng.status(T).ack, { sticky: false, author: 'bob', comment: 'looking', time: T0 });
      assert.deepEqual(seen(result(eng, 't', 'CRITICAL')), []);
      assert.deepEqual(seen(result(eng, 't', 'WARNING')), ['ACKREMOVED', 'PROBLEM#2 WARNING']);
    },
  },
  {
    name: 'a pending flexible downtime stays pending, then starts on the first problem after the restart',
    before(eng) {
      result(eng, 't', 'OK');
      eng.scheduleDowntime({ ref: T, start: T0, end: T0 + 60 * MIN, fixed: false, duration: 15 * MIN, author: 'ops', comment: 'patching' });
      assert.equal(eng.downtimes()[0]?.startedAt, undefined);
    },
    gap: 10 * MIN,
    after(eng, clock, report) {
      assert.equal(report.downtimes, 1);
      assert.deepEqual(eng.tick(), [], 'still pending: the service is OK');
      assert.equal(eng.status(T).inDowntime, false);
      assert.deepEqual(seen(result(eng, 't', 'CRITICAL')), ['DOWNTIMESTART', 'DOWNTIMESTART#0 CRITICAL']);
      assert.equal(eng.status(T).inDowntime, true);
      assert.equal(eng.downtimes()[0]?.startedAt, clock.t);
      clock.t += 15 * MIN;
      assert.deepEqual(seen(eng.tick()), ['DOWNTIMEEND', 'DOWNTIMEEND#0 CRITICAL']);
    },
  },
  {
    name: 'a running downtime keeps silencing without a second DOWNTIMESTART; a triggered one follows its trigger',
    before(eng, clock) {
      const host = eng.scheduleDowntime({ ref: { host: 'h' }, start: T0 + 20 * MIN, end: T0 + 60 * MIN, fixed: true, author: 'ops', comment: 'rack' });
      eng.scheduleDowntime({ ref: S, start: T0, end: T0 + 90 * MIN, fixed: true, triggeredBy: host.id, author: 'ops', comment: 'behind the rack' });
      eng.scheduleDowntime({ ref: T, start: T0, end: T0 + 30 * MIN, fixed: true, author: 'ops', comment: 'now' });
      clock.t += MIN;
      assert.deepEqual(seen(eng.tick()), []);
      assert.equal(eng.status(T).inDowntime, true);
    },
    gap: 4 * MIN,
    after(eng, clock) {
      assert.deepEqual(seen(eng.tick()), [], 'nothing starts again');
      assert.equal(eng.status(T).inDowntime, true);
      assert.deepEqual(seen(result(eng, 't', 'CRITICAL')), [], 'in downtime');
      clock.t = T0 + 20 * MIN;
      const started = eng.tick().filter((e) => e.kind === 'DOWNTIMESTART');
      assert.deepEqual(started.map((e) => e.ref.service ?? e.ref.host), ['h', 's']);
    },
  },
  {
    name: 'downtimes that ended while stopped are dropped, without events',
    before(eng) {
      result(eng, 't', 'CRITICAL');
      eng.scheduleDowntime({ ref: S, start: T0, end: T0 + 30 * MIN, fixed: true, author: 'ops', comment: 'fixed' });
      eng.scheduleDowntime({ ref: T, start: T0, end: T0 + 24 * 60 * MIN, fixed: false, duration: 20 * MIN, author: 'ops', comment: 'flexible, started' });
      eng.scheduleDowntime({ ref: S, start: T0 + 5 * MIN, end: T0 + 10 * MIN, fixed: false, duration: 20 * MIN, author: 'ops', comment: 'flexible, never started' });
      eng.scheduleDowntime({ ref: S, start: T0, end: T0 + 90 * MIN, fixed: true, author: 'ops', comment: 'still on' });
      assert.equal(eng.downtimes().filter((d) => d.startedAt !== undefined).length, 3);
    },
    gap: 45 * MIN,
    after(eng, _clock, report) {
      assert.deepEqual(report.expired, ['#1 h/s', '#2 h/t', '#3 h/s']);
      assert.deepEqual(
        eng.downtimes().map((d) => [d.id, d.comment]),
        [[4, 'still on']],
      );
      assert.deepEqual(eng.tick(), []);
      assert.equal(eng.status(T).inDowntime, false);
    },
  },
  {
    name: 'checks removed from the cluster file are dropped, with their downtimes and those they trigger',
    before(eng) {
      result(eng, 't', 'CRITICAL');
      const gone = eng.scheduleDowntime({ ref: T, start: T0 + MIN, end: T0 + 30 * MIN, fixed: true, author: 'ops', comment: 'gone' });
      eng.scheduleDowntime({ ref: S, start: T0, end: T0 + 30 * MIN, fixed: true, triggeredBy: gone.id, author: 'ops', comment: 'orphan' });
    },
    gap: 0,
    change: (m) => delete m.hosts.h.services.t,
    after(eng, _clock, report) {
      assert.deepEqual([report.restored, report.unknown], [2, ['h/t']]);
      assert.deepEqual(report.orphaned, ['#1 h/t: no longer in the configuration', '#2 h/s: its triggering downtime #1 is gone']);
      assert.deepEqual(eng.downtimes(), []);
      const next = eng.scheduleDowntime({ ref: S, start: T0, end: T0 + MIN, fixed: true, author: 'ops', comment: 'new' });
      assert.equal(next.id, 3, 'downtime ids are not reused');
    },
  },
  {
    name: 'downtime ids go on after cancelled ones (next id retained)',
    before(eng) {
      for (let i = 0; i < 3; i++) eng.scheduleDowntime({ ref: S, start: T0 + MIN, end: T0 + 2 * MIN, fixed: true, author: 'ops', comment: `${i}` });
      eng.cancelDowntime(2);
      eng.cancelDowntime(3);
    },
    gap: 0,
    after(eng) {
      assert.deepEqual(
        eng.downtimes().map((d) => d.id),
        [1],
      );
      assert.equal(eng.scheduleDowntime({ ref: S, start: T0, end: T0 + MIN, fixed: true, author: 'ops', comment: 'new' }).id, 4);
    },
  },
  {
    name: 'flapping is kept (its notifications stay suppressed); with flap detection turned off since, it is not',
    before(eng) {
      for (const st of ['CRITICAL', 'WARNING', 'CRITICAL', 'WARNING'] as const) result(eng, 't', st);
      assert.equal(eng.status(T).isFlapping, true);
    },
    gap: 61 * MIN,
    after(eng) {
      assert.equal(eng.status(T).isFlapping, true);
      assert.ok(eng.status(T).percentStateChange > 20);
      assert.deepEqual(seen(result(eng, 't', 'CRITICAL')), [], 'flapping: no problem notification');
    },
  },
  {
    name: '(the same, flap detection off after the restart)',
    before(eng) {
      for (const st of ['CRITICAL', 'WARNING', 'CRITICAL', 'WARNING'] as const) result(eng, 't', st);
    },
    gap: 61 * MIN,
    change: (m) => (m.hosts.h.services.t.flap_detection = false),
    after(eng) {
      assert.equal(eng.status(T).isFlapping, false);
      assert.equal(eng.status(T).flapHistory.length, 21);
      assert.deepEqual(seen(result(eng, 't', 'CRITICAL')), ['PROBLEM#4 CRITICAL']);
    },
  },
  {
    name: 'fitted to the new configuration: attempt at most max_check_attempts, next check at most one interval away',
    before(eng, clock) {
      result(eng, 's', 'WARNING');
      clock.t += MIN;
      result(eng, 's', 'WARNING');
    },
    gap: 0,
    change: (m) => Object.assign(m.hosts.h.services.s, { max_check_attempts: 1, retry_interval: '10s' }),
    after(eng, clock) {
      const st = eng.status(S);
      assert.deepEqual([st.stateType, st.attempt], ['SOFT', 1]);
      assert.equal(st.nextCheck, clock.t + 10_000);
      clock.t = st.nextCheck;
      assert.deepEqual(seen(result(eng, 's', 'WARNING')), ['PROBLEM#1 WARNING']);
      assert.equal(eng.status(S).stateType, 'HARD');
    },
  },
];

for (const c of cases) {
  test(`restart: ${c.name}`, () => {
    const { clock, eng } = engine();
    c.before(eng, clock);
    const { eng: after, report } = restart(eng, clock, c.gap, c.change);
    c.after(after, clock, report);
  });
}

test('without retention the same restart forgets: the acknowledged problem pages again and the recovery is never sent', () => {
  const { clock, eng } = engine();
  result(eng, 't', 'CRITICAL');
  eng.acknowledge(T, { author: 'bob', comment: 'known' });
  clock.t += MIN;
  const fresh = new MonitorEngine(config(), clock);
  assert.deepEqual(seen(result(fresh, 't', 'CRITICAL')), ['PROBLEM#1 CRITICAL']);
  const again = new MonitorEngine(config(), clock);
  assert.deepEqual(seen(result(again, 't', 'OK')), [], 'nothing to recover from');
});

test('an entry that does not fit is left out with the reason; the rest is restored', () => {
  const { eng } = engine();
  const snap = eng.exportState();
  snap.checks.h = { ...snap.checks.h!, state: 'CRITICAL' };
  snap.downtimes.push({ id: 7, ref: S, start: T0 + MIN, end: T0, fixed: true, author: 'x', comment: '' });
  const next = engine().eng;
  const report = next.importState(parseOk(formatRetention(snap)));
  assert.deepEqual(report.invalid, ['h: CRITICAL is not a host state', 'downtime #7 h/s: ends before it starts']);
  assert.equal(report.restored, 2);
  assert.equal(next.status({ host: 'h' }).state, 'UP');
});

function parseOk(text: string): RetentionSnapshot {
  const r = parseRetention(text);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.snapshot;
}

test('a file that is not a version-1 snapshot is refused with the reason', () => {
  const good = engine().eng.exportState();
  const table: Array<[string, string, RegExp | null]> = [
    ['valid', JSON.stringify(good), null],
    ['an unknown field (a later writer of the same version)', JSON.stringify({ ...good, comments: [] }), null],
    ['empty', '', /^not JSON \(/],
    ['cut short', JSON.stringify(good).slice(0, 80), /^not JSON \(/],
    ['an array', '[]', /^not a retention file \(expected a JSON object\)$/],
    ['no version', JSON.stringify({ ...good, version: undefined }), /^not a retention file \(no format version; expected "version": 1\)$/],
    ['a newer version', JSON.stringify({ ...good, version: 2 }), /^format version 2 is newer than this Palisade reads \(1\)/],
    ['version 0', JSON.stringify({ ...good, version: 0 }), /^not a retention file \(no format version/],
    ['a field of the wrong kind', JSON.stringify({ ...good, checks: { ...good.checks, 'h/s': { ...good.checks['h/s'], attempt: 'two' } } }), /^checks\["h\/s"\]\.attempt: /],
    ['an unknown state', JSON.stringify({ ...good, checks: { h: { ...good.checks.h, state: 'BROKEN' } } }), /^checks\.h\.state: /],
    ['a downtime without an end', JSON.stringify({ ...good, downtimes: [{ id: 1, ref: { host: 'h' }, start: T0, fixed: true, author: '', comment: '' }] }), /^downtimes\[0\]\.end: /],
  ];
  for (const [name, text, want] of table) {
    const r = parseRetention(text);
    if (want === null) assert.ok(r.ok, `${name}: ${r.ok ? '' : r.reason}`);
    else assert.ok(!r.ok && want.test(r.reason), `${name}: ${r.ok ? 'accepted' : r.reason}`);
  }
});
