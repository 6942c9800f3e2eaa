import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quorumStep } from './quorum.ts';

test('quorum with hysteresis: lost below quorum − h, regained at quorum + h', () => {
  // quorum 5, hysteresis 1: lost below 4, regained from 6.
  const sums = [6, 5, 4, 3, 4, 5, 6, 7, 3];
  const expected = ['up', 'up', 'up', 'down', 'down', 'down', 'up', 'up', 'down'];
  let prev: boolean | undefined;
  const seen: string[] = [];
  for (const sum of sums) {
    const s = quorumStep(prev, sum, 5, 1);
    seen.push(s.up ? 'up' : 'down');
    prev = s.up;
  }
  assert.deepEqual(seen, expected);
});

test('transitions are reported once, the first evaluation included', () => {
  const table: Array<[prev: boolean | undefined, sum: number, quorum: number, h: number, up: boolean, changed: boolean]> = [
    [undefined, 0, 1, 0, false, true],
    [undefined, 1, 1, 0, true, true],
    [true, 1, 1, 0, true, false],
    [true, 0, 1, 0, false, true],
    [false, 1, 1, 0, true, true],
    [false, 2, 2, 1, false, false], // needs 3 to come back
    [false, 3, 2, 1, true, true],
    [true, 1, 2, 1, true, false], // lost only below 1
    [true, 0, 2, 1, false, true],
    [undefined, 0, 0, 0, true, true], // quorum 0 is always met
  ];
  for (const [prev, sum, q, h, up, changed] of table) {
    assert.deepEqual(quorumStep(prev, sum, q, h), { up, changed }, `prev=${prev} sum=${sum} quorum=${q} h=${h}`);
  }
});
