import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../core/clock.ts';
import { dynamicWeight, effectiveWeight, slowStartWeight } from './weight.ts';

test('slow start ramps linearly from 10% to the full weight', () => {
  const table: Array<[sinceUp: number, slowStart: number, weight: number, expected: number]> = [
    [0, 60_000, 100, 10],
    [3_000, 60_000, 100, 10], // 5% would be below the 10% floor
    [6_000, 60_000, 100, 10],
    [30_000, 60_000, 100, 50],
    [45_000, 60_000, 100, 75],
    [59_999, 60_000, 100, 99.99833333333333],
    [60_000, 60_000, 100, 100],
    [600_000, 60_000, 100, 100],
    [0, 0, 100, 100], // off
    [10, 60_000, 0, 0], // weight 0 stays 0
    [30_000, 60_000, 3, 1.5],
    [-5, 60_000, 10, 1], // a clock step backwards does not go below the floor
  ];
  for (const [since, ss, w, expected] of table) {
    assert.equal(slowStartWeight(since, ss, w), expected, `since=${since} slow_start=${ss} weight=${w}`);
  }
});

test('dynamic weight: absolute from exec, percentage from an agent', () => {
  assert.equal(dynamicWeight(10, undefined), 10);
  assert.equal(dynamicWeight(10, { absolute: 3 }), 3);
  assert.equal(dynamicWeight(10, { percent: 50 }), 5);
  assert.equal(dynamicWeight(10, { percent: 0 }), 0);
});

test('effective weight applies slow start only after a flip to up', () => {
  const clock = new ManualClock(1_000);
  assert.equal(effectiveWeight(10, { percent: 50 }, 10_000, undefined, clock.now()), 5);
  const upSince = clock.now();
  clock.advance(5_000);
  assert.equal(effectiveWeight(10, { percent: 50 }, 10_000, upSince, clock.now()), 2.5);
  clock.advance(5_000);
  assert.equal(effectiveWeight(10, undefined, 10_000, upSince, clock.now()), 10);
});
