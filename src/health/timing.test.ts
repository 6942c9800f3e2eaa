import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstDelay, jitteredDelay, jitterSpan } from './timing.ts';

test('jitter span: a fraction of the interval or a fixed duration', () => {
  assert.equal(jitterSpan({ kind: 'fraction', value: 0.1 }, 2000), 200);
  assert.equal(jitterSpan({ kind: 'ms', value: 300 }, 2000), 300);
});

test('jittered delay stays within interval ± span, and at least 1ms', () => {
  const j = { kind: 'fraction', value: 0.1 } as const;
  assert.equal(jitteredDelay(2000, j, () => 0), 1800);
  assert.equal(jitteredDelay(2000, j, () => 0.5), 2000);
  assert.equal(jitteredDelay(2000, j, () => 0.999999), 2200);
  assert.equal(jitteredDelay(100, { kind: 'ms', value: 500 }, () => 0), 1);
  assert.equal(jitteredDelay(2000, { kind: 'fraction', value: 0 }, Math.random), 2000);
});

test('the first check fires within the spread, so that backends do not start together', () => {
  const j = { kind: 'fraction', value: 0.5 } as const;
  assert.equal(firstDelay(2000, j, () => 0), 0);
  assert.equal(firstDelay(2000, j, () => 0.5), 500);
  assert.equal(firstDelay(2000, { kind: 'ms', value: 10_000 }, () => 0.5), 1000); // never beyond one interval
  assert.equal(firstDelay(2000, { kind: 'fraction', value: 0 }, () => 0.7), 0);
});
