import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { CheckResult, PerfDatum } from '../core/check-result.ts';
import { HistoryStore, type StoreOptions } from './history.ts';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 5, 0, 0, 0);

async function open(t: TestContext, o: Partial<StoreOptions> & { clock: { t: number } }): Promise<HistoryStore> {
  const dir = await mkdtemp(join(tmpdir(), 'pal-store-'));
  const s = new HistoryStore({ path: join(dir, 'm.db'), flushInterval: 0, now: () => o.clock.t, ...o });
  t.after(async () => {
    s.close();
    await rm(dir, { recursive: true, force: true });
  });
  return s;
}

function result(at: number, perf: PerfDatum[], state: CheckResult['state'] = 'OK'): CheckResult {
  return { state, code: state === 'OK' ? 0 : 2, summary: `${state} - load`, longOutput: '', perfdata: perf, startedAt: at, durationMs: 3 };
}

test('rollups hold min / avg / max per bucket, count-weighted, exact across flushes', async (t) => {
  const clock = { t: T0 };
  const s = await open(t, { clock });
  const v = (sec: number, value: number) => s.record('web1/load', result(T0 + sec * 1000, [{ label: 'load1', value, uom: '', warn: '5', crit: '10:20' }]));
  v(0, 1);
  v(30, 3);
  s.flush();
  v(50, 2); // same minute, another transaction
  v(60, 5);
  v(125, 7);
  v(130, 7);
  s.flush();
  const m1 = s.series('web1/load', 'load1', T0, T0 + 600_000, { tier: '1m' })!;
  assert.deepEqual(m1.points, [
    { t: T0, min: 1, avg: 2, max: 3 },
    { t: T0 + 60_000, min: 5, avg: 5, max: 5 },
    { t: T0 + 120_000, min: 7, avg: 7, max: 7 },
  ]);
  const m5 = s.series('web1/load', 'load1', T0, T0 + 600_000, { tier: '5m' })!;
  assert.deepEqual(m5.points, [{ t: T0, min: 1, avg: 25 / 6, max: 7 }]);
  assert.equal(m5.step, 300_000);
  const raw = s.series('web1/load', 'load1', T0, T0 + 600_000, { tier: 'raw' })!;
  assert.deepEqual(raw.points.map((p) => p.avg), [1, 3, 2, 5, 7, 7]);
  // Warn / crit lines from the perfdata: `5` → 5, `10:20` → 10 and 20.
  assert.deepEqual([m1.warn, m1.crit], [[5], [10, 20]]);
  // Constant buckets store no min / max (one header byte each instead of eight).
  const nulls = s.db.prepare('SELECT count(*) AS n FROM r_1m WHERE min IS NULL AND max IS NULL').get() as { n: number };
  assert.equal(nulls.n, 2);
  assert.deepEqual(s.labels('web1/load'), ['load1']);
  assert.equal(s.series('web1/load', 'nope', T0, T0 + 1), undefined);
});

test('the tier of a view: raw for 4 h and 25 h, 5 min for a week, 1 h for a month, 6 h for a year', async (t) => {
  const clock = { t: T0 + 500 * DAY };
  const s = await open(t, { clock });
  const now = clock.t;
  const table: Array<[string, number, string]> = [
    ['4h', 4 * 3_600_000, 'raw'],
    ['25h', 25 * 3_600_000, 'raw'],
    ['week', 7 * DAY, '5m'],
    ['month', 31 * DAY, '1h'],
    ['year', 365 * DAY, '6h'],
    ['two years (past every retention)', 730 * DAY, '6h'],
  ];
  for (const [what, span, tier] of table) assert.equal(s.tierFor(now - span, now), tier, what);
});

test('retention prunes each tier; disk use stops growing once the retention is reached', async (t) => {
  const clock = { t: T0 };
  const retention = { raw: DAY, '1m': DAY, '5m': 2 * DAY, '1h': 3 * DAY, '6h': 4 * DAY, events: 2 * DAY };
  const s = await open(t, { clock, retention });
  const sizes: number[] = [];
  for (let day = 0; day < 9; day++) {
    for (let min = 0; min < 1440; min++) {
      clock.t = T0 + day * DAY + min * 60_000;
      s.record('db/mysql', result(clock.t, [{ label: 'lag', value: (min % 17) * 1.5, uom: 's' }, { label: 'conn', value: 40 + (min % 7), uom: '' }]));
      if (min % 60 === 59) s.flush();
    }
    s.event({ time: clock.t, kind: 'STATE', object: 'db/mysql', state: 'OK', detail: { day } });
    s.prune(clock.t);
    sizes.push(s.size().used);
  }
  const now = clock.t;
  const oldest = (table: string) => (s.db.prepare(`SELECT min(b) AS b FROM ${table}`).get() as { b: number }).b;
  assert.ok((s.db.prepare('SELECT min(t) AS t FROM sample').get() as { t: number }).t * 1000 >= now - DAY);
  assert.ok(oldest('r_1m') * 60_000 >= now - DAY - 60_000);
  assert.ok(oldest('r_5m') * 300_000 >= now - 2 * DAY - 300_000);
  assert.ok(oldest('r_1h') * 3_600_000 >= now - 3 * DAY - 3_600_000);
  assert.ok(oldest('r_6h') * 21_600_000 >= now - 4 * DAY - 21_600_000);
  assert.equal(s.events(0, now).length, 2, 'events older than 2 days are gone');
  // From day 5 on every tier is full: the file reuses the pages freed by pruning.
  const steady = sizes.slice(5);
  assert.ok(Math.max(...steady) <= Math.min(...steady) * 1.1, `sizes by day: ${sizes.join(', ')}`);
  const series = s.series('db/mysql', 'lag', now - 3 * DAY, now, { tier: '1h' })!;
  assert.equal(series.points.length, 73, "72 hours and the partly covered first one");
  assert.ok(series.points.every((p) => p.min === 0 && p.max === 24 && p.avg > 0 && p.avg < 24));
});

test('events and audit entries round-trip in time order', async (t) => {
  const clock = { t: T0 };
  const s = await open(t, { clock });
  s.event({ time: T0 + 2, kind: 'NOTIFICATION', object: 'web1/http', state: 'CRITICAL', detail: { type: 'PROBLEM', contacts: ['alice'] } });
  s.event({ time: T0 + 1, kind: 'STATE', object: 'web1/http', state: 'CRITICAL', detail: undefined });
  s.audit({ time: T0 + 3, actor: 'bob', action: 'acknowledge', object: 'web1/http', detail: { sticky: true } });
  assert.equal(s.pending, 3);
  assert.equal(s.flush(), 3);
  assert.deepEqual(s.events(T0, T0 + 10).map((e) => `${e.kind} ${e.state}`), ['STATE CRITICAL', 'NOTIFICATION CRITICAL']);
  assert.deepEqual(s.events(T0, T0 + 10)[1]!.detail, { type: 'PROBLEM', contacts: ['alice'] });
  assert.deepEqual(s.auditLog(T0, T0 + 10), [{ time: T0 + 3, actor: 'bob', action: 'acknowledge', object: 'web1/http', detail: { sticky: true } }]);
});
