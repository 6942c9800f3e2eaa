import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FLAP_HISTORY, initialHistory, isFlappingNow, percentStateChange, recordState } from './flapping.ts';

function history(states: string): number[] {
  // One character per state, oldest first, padded on the old side with the first state.
  const codes = [...states].map(Number);
  let h = initialHistory(codes[0]!);
  for (const c of codes) h = recordState(h, c);
  return h;
}

test('weighted percent state change (0.75 for the oldest change … 1.25 for the newest, over 20)', () => {
  const table: Array<[string, number]> = [
    ['0', 0],
    ['02', 6.25], // one change, newest: 1.25 / 20
    ['020', 12.368], // 1.2237 + 1.25
    ['0202', 18.355],
    ['02020', 24.211],
    ['020202020202020202020', 100], // every entry changes: the average weight is 1.0
  ];
  for (const [s, pct] of table) assert.ok(Math.abs(percentStateChange(history(s)) - pct) < 0.01, `${s}: ${percentStateChange(history(s))}`);
  const oldest = initialHistory(2);
  oldest[0] = 0; // a single change between the two oldest entries
  assert.equal(percentStateChange(oldest), 3.75);
});

test('the history keeps 21 states', () => {
  let h = initialHistory(0);
  for (let i = 0; i < 50; i++) h = recordState(h, i % 4);
  assert.equal(h.length, FLAP_HISTORY);
  assert.deepEqual(h.slice(-3), [3, 0, 1]);
});

test('hysteresis between the low and high thresholds', () => {
  const table: Array<[boolean, number, boolean]> = [
    [false, 19.9, false],
    [false, 20, true],
    [true, 19.9, true],
    [true, 5.01, true],
    [true, 5, false],
    [false, 5, false],
  ];
  for (const [was, pct, want] of table) assert.equal(isFlappingNow(was, pct, 5, 20), want, `${was} at ${pct}`);
});
