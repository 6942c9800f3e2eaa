import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration, parseSize } from './units.ts';

test('durations', () => {
  const table: [string | number, number | undefined][] = [
    ['250ms', 250], ['5s', 5000], ['2m', 120_000], ['1h', 3_600_000], ['1d', 86_400_000], ['1m30s', 90_000], ['1.5s', 1500],
    [3, 3000], ['10', 10_000], ['', undefined], ['5x', undefined], ['s', undefined], [-1, undefined], ['5 s', undefined],
  ];
  for (const [input, ms] of table) assert.equal(parseDuration(input), ms, String(input));
  assert.equal(formatDuration(90_000), '90s');
  assert.equal(formatDuration(120_000), '2m');
  assert.equal(formatDuration(250), '250ms');
});

test('sizes (binary units)', () => {
  const table: [string | number, number | undefined][] = [
    [512, 512], ['512', 512], ['16k', 16_384], ['16KiB', 16_384], ['1m', 1_048_576], ['1MB', 1_048_576], ['2g', 2 * 1024 ** 3],
    ['1.5k', 1536], ['x', undefined], ['10q', undefined], [-5, undefined], [1.5, undefined],
  ];
  for (const [input, n] of table) assert.equal(parseSize(input), n, String(input));
});
