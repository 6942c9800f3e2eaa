import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { outlierSchema, type OutlierConfig } from '../config/health-schema.ts';
import { ManualClock } from '../core/clock.ts';
import { isPanic, OutlierDetector, type PassiveOutcome } from './outlier.ts';

const base: OutlierConfig = outlierSchema.parse({});
const cfg = (o: Partial<OutlierConfig>): OutlierConfig => ({ ...base, ...o });
const ids = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `b${i}` }));

/** Feeds outcomes to one backend, one second apart; returns the index of each ejection. */
function feed(d: OutlierDetector, clock: ManualClock, id: string, outcomes: PassiveOutcome[]): number[] {
  const at: number[] = [];
  outcomes.forEach((o, i) => {
    clock.advance(1000);
    if (d.report(id, o, clock.now())?.ejected) at.push(i);
  });
  return at;
}

describe('nginx max_fails within fail_timeout', () => {
  const table: Array<{ name: string; max_fails: number; fail_timeout: number; outcomes: PassiveOutcome[]; ejectedAt: number[] }> = [
    { name: 'max_fails=1: the first error ejects', max_fails: 1, fail_timeout: 10_000, outcomes: ['ok', 'error'], ejectedAt: [1] },
    { name: 'max_fails=3: three failures in the window', max_fails: 3, fail_timeout: 10_000, outcomes: ['error', 'ok', 'timeout', 'ok', 'invalid_header'], ejectedAt: [4] },
    { name: 'failures spread wider than the window do not add up', max_fails: 2, fail_timeout: 1_500, outcomes: ['error', 'ok', 'error', 'ok', 'error'], ejectedAt: [] },
    { name: 'statuses do not count unless listed', max_fails: 1, fail_timeout: 10_000, outcomes: [500, 502, 503], ejectedAt: [] },
    { name: 'max_fails=0 is off', max_fails: 0, fail_timeout: 10_000, outcomes: ['error', 'error', 'error'], ejectedAt: [] },
  ];
  for (const row of table) {
    test(row.name, () => {
      const clock = new ManualClock();
      const d = new OutlierDetector(cfg({ max_fails: row.max_fails, fail_timeout: row.fail_timeout }), ids(4));
      assert.deepEqual(feed(d, clock, 'b0', row.outcomes), row.ejectedAt);
    });
  }

  test('listed statuses count; the ejection lasts fail_timeout, then the backend returns', () => {
    const clock = new ManualClock();
    const d = new OutlierDetector(cfg({ max_fails: 2, fail_timeout: 10_000, fail_status: [503] }), ids(4));
    assert.deepEqual(feed(d, clock, 'b0', [503, 503]), [1]);
    assert.equal(d.ejection('b0')?.reason, '2 failed attempts within 10s (max_fails)');
    assert.equal(d.nextExpiry(), 12_000);
    assert.deepEqual(d.expire(11_999), []);
    assert.deepEqual(d.expire(12_000), [{ backend: 'b0', ejected: false, reason: 'ejection ended (2 failed attempts within 10s (max_fails))' }]);
    assert.equal(d.ejection('b0'), undefined);
  });

  test('per-backend max_fails overrides the service', () => {
    const clock = new ManualClock();
    const d = new OutlierDetector(cfg({ max_fails: 1 }), [{ id: 'a', max_fails: 3 }, { id: 'b' }]);
    assert.deepEqual(feed(d, clock, 'a', ['error', 'error']), []);
    assert.deepEqual(feed(d, clock, 'b', ['error']), [0]);
  });

  test('a lone backend is never ejected (nginx)', () => {
    const clock = new ManualClock();
    const d = new OutlierDetector(cfg({ max_fails: 1 }), ids(1));
    assert.deepEqual(feed(d, clock, 'b0', ['error', 'error']), []);
  });
});

describe('Envoy consecutive failures and growing ejection time', () => {
  const off = { max_fails: 0 };
  test('consecutive_5xx counts 5xx and local errors; any other answer resets it', () => {
    const clock = new ManualClock();
    const d = new OutlierDetector(cfg({ ...off, consecutive_5xx: 3 }), ids(4));
    assert.deepEqual(feed(d, clock, 'b0', [500, 503, 404, 500, 'error', 'timeout']), [5]);
    assert.match(d.ejection('b0')!.reason, /^3 consecutive 5xx or errors \(consecutive_5xx\), ejected for 30s$/);
  });

  test('consecutive_gateway_failure counts only 502/503/504 and local errors', () => {
    const clock = new ManualClock();
    const d = new OutlierDetector(cfg({ ...off, consecutive_gateway_failure: 2 }), ids(4));
    assert.deepEqual(feed(d, clock, 'b0', [502, 500, 504, 'error']), [3]);
  });

  test('each ejection lasts base × times, up to max; healthy periods decay the count', () => {
    const clock = new ManualClock();
    const d = new OutlierDetector(cfg({ ...off, consecutive_5xx: 1, base_ejection_time: 10_000, max_ejection_time: 25_000 }), ids(4));
    const lengths: number[] = [];
    for (let i = 0; i < 4; i++) {
      const e = d.report('b0', 500, clock.now());
      assert.ok(e?.ejected);
      lengths.push(e.until! - clock.now());
      clock.advance(e.until! - clock.now());
      d.expire(clock.now());
    }
    assert.deepEqual(lengths, [10_000, 20_000, 25_000, 25_000]);
    // Two base periods healthy: the count falls from 4 to 2, so the next is 3 × 10s capped at 25s → 25s; after 3 more, 1 × 10s.
    clock.advance(20_000);
    let e = d.report('b0', 500, clock.now())!;
    assert.equal(e.until! - clock.now(), 25_000);
    clock.advance(25_000);
    d.expire(clock.now());
    clock.advance(30_000);
    e = d.report('b0', 500, clock.now())!;
    assert.equal(e.until! - clock.now(), 10_000);
  });

  test('reports while ejected are ignored (late in-flight requests)', () => {
    const d = new OutlierDetector(cfg({ ...off, consecutive_5xx: 1 }), ids(4));
    assert.ok(d.report('b0', 500, 0)?.ejected);
    assert.equal(d.report('b0', 500, 1), undefined);
    assert.equal(d.ejectedCount(), 1);
  });
});

describe('max_ejection_percent caps how many are ejected at once', () => {
  const table: Array<{ backends: number; percent: number; maxEjected: number }> = [
    { backends: 10, percent: 10, maxEjected: 1 },
    { backends: 10, percent: 30, maxEjected: 3 },
    { backends: 10, percent: 50, maxEjected: 5 },
    { backends: 3, percent: 50, maxEjected: 2 }, // 1/3 < 50% → a second one may go
    { backends: 4, percent: 50, maxEjected: 2 },
    { backends: 4, percent: 0, maxEjected: 1 }, // one is always allowed (Envoy)
    { backends: 4, percent: 100, maxEjected: 4 },
  ];
  for (const row of table) {
    test(`${row.backends} backends, ${row.percent}%: at most ${row.maxEjected}`, () => {
      const d = new OutlierDetector(cfg({ max_fails: 1, max_ejection_percent: row.percent }), ids(row.backends));
      for (const b of ids(row.backends)) for (let i = 0; i < 3; i++) d.report(b.id, 'error', i);
      assert.equal(d.ejectedCount(), row.maxEjected);
    });
  }

  test('when one returns, another failing backend may be ejected', () => {
    const d = new OutlierDetector(cfg({ max_fails: 1, fail_timeout: 1000, max_ejection_percent: 10 }), ids(4));
    assert.ok(d.report('b0', 'error', 0)?.ejected);
    assert.equal(d.report('b1', 'error', 10), undefined);
    d.expire(1000);
    assert.ok(d.report('b1', 'error', 1001)?.ejected);
  });

  test('backends removed by a reload are forgotten; kept ones keep their ejection', () => {
    const d = new OutlierDetector(cfg({ max_fails: 1 }), ids(3));
    d.report('b0', 'error', 0);
    d.setBackends([{ id: 'b0' }, { id: 'b2' }, { id: 'new' }]);
    assert.ok(d.ejection('b0'));
    assert.equal(d.ejection('b1'), undefined);
    assert.equal(d.report('b1', 'error', 1), undefined);
  });
});

test('panic: fewer than threshold% healthy', () => {
  const table: Array<[healthy: number, total: number, threshold: number, panic: boolean]> = [
    [5, 10, 50, false],
    [4, 10, 50, true],
    [0, 3, 1, true], // nginx's "all down → try all" is a threshold just above 0
    [1, 3, 1, false],
    [0, 3, 0, false], // 0 = off
    [0, 0, 50, false], // nothing to panic about
    [10, 10, 100, false],
    [9, 10, 100, true],
  ];
  for (const [h, t, th, p] of table) assert.equal(isPanic(h, t, th), p, `${h}/${t} at ${th}%`);
});
