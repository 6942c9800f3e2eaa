import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseNagiosRange, rangeAlerts, thresholdState } from './nagios-range.ts';
import type { NagiosRange } from './nagios-range.ts';

function range(s: string): NagiosRange {
  const r = parseNagiosRange(s);
  assert.equal(typeof r, 'object', `${s}: ${String(r)}`);
  return r as NagiosRange;
}

test('ranges parse as the plugin guidelines define them', () => {
  const table: Array<[string, number, number, boolean]> = [
    ['10', 0, 10, false],
    ['10:', 10, Infinity, false],
    ['~:10', -Infinity, 10, false],
    ['10:20', 10, 20, false],
    ['@10:20', 10, 20, true],
    ['@10', 0, 10, true],
    [':10', 0, 10, false],
    ['~:', -Infinity, Infinity, false],
    ['-5:-1', -5, -1, false],
    ['0.5:1.5', 0.5, 1.5, false],
    ['1e3', 0, 1000, false],
    [' 5 ', 0, 5, false],
  ];
  for (const [text, start, end, inside] of table) {
    const r = range(text);
    assert.deepEqual([r.start, r.end, r.inside, r.text], [start, end, inside, text.trim()], text);
  }
});

test('bad ranges are errors that say what was expected', () => {
  for (const bad of ['', 'x', '10:x', '@', '1:2:3', '20:10', '~10', '5%', '10,20']) {
    const r = parseNagiosRange(bad);
    assert.equal(typeof r, 'string', bad);
    assert.match(r as string, /threshold range/, bad);
  }
});

test('alerting follows the guidelines table', () => {
  // [range, value, alerts]
  const table: Array<[string, number, boolean]> = [
    ['10', -1, true], ['10', 0, false], ['10', 10, false], ['10', 10.1, true], ['10', 11, true],
    ['10:', 9.99, true], ['10:', 10, false], ['10:', 1e9, false],
    ['~:10', -1e9, false], ['~:10', 10, false], ['~:10', 11, true],
    ['10:20', 9, true], ['10:20', 10, false], ['10:20', 20, false], ['10:20', 21, true],
    ['@10:20', 9, false], ['@10:20', 10, true], ['@10:20', 15, true], ['@10:20', 20, true], ['@10:20', 21, false],
    ['1:', 0, true], ['1:', 1, false],
    ['0', 0, false], ['0', 1, true],
  ];
  for (const [text, value, alerts] of table) assert.equal(rangeAlerts(range(text), value), alerts, `${text} with ${value}`);
});

test('critical wins over warning; no range never alerts', () => {
  assert.equal(thresholdState(5, range('10'), range('20')), 'OK');
  assert.equal(thresholdState(15, range('10'), range('20')), 'WARNING');
  assert.equal(thresholdState(25, range('10'), range('20')), 'CRITICAL');
  assert.equal(thresholdState(25, undefined, undefined), 'OK');
  assert.equal(thresholdState(0, range('1:'), undefined), 'WARNING');
  assert.equal(thresholdState(0, range('2:'), range('1:')), 'CRITICAL');
});
