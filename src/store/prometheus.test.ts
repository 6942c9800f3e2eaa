import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prometheusText } from './prometheus.ts';

test('check states and perfdata in Prometheus text format, labels escaped', () => {
  const text = prometheusText([
    { host: 'web1', state: 'UP', stateType: 'HARD', attempt: 1, isFlapping: false, acknowledged: false, inDowntime: false, lastCheck: 1_700_000_000_000 },
    {
      host: 'web1',
      service: 'disk "/var"',
      state: 'CRITICAL',
      stateType: 'SOFT',
      attempt: 2,
      isFlapping: true,
      acknowledged: true,
      inDowntime: false,
      lastCheck: 0,
      perfdata: [
        { label: '/var\\log', value: 93.5, uom: '%', warn: '80', crit: '90' },
        { label: 'inodes', value: Number.NaN, uom: '' },
      ],
    },
  ]);
  const lines = text.split('\n');
  assert.ok(lines.includes('# TYPE palisade_check_state gauge'));
  assert.ok(lines.includes('palisade_check_state{host="web1",service="",state="UP",state_type="hard"} 0'));
  assert.ok(lines.includes('palisade_check_state{host="web1",service="disk \\"/var\\"",state="CRITICAL",state_type="soft"} 2'));
  assert.ok(lines.includes('palisade_check_attempt{host="web1",service="disk \\"/var\\""} 2'));
  assert.ok(lines.includes('palisade_check_flapping{host="web1",service="disk \\"/var\\""} 1'));
  assert.ok(lines.includes('palisade_check_last_run_seconds{host="web1",service=""} 1700000000'));
  assert.ok(!text.includes('palisade_check_last_run_seconds{host="web1",service="disk'), 'never checked: no last-run sample');
  assert.ok(lines.includes('palisade_perfdata_value{host="web1",service="disk \\"/var\\"",label="/var\\\\log",uom="%"} 93.5'));
  assert.ok(lines.includes('palisade_perfdata_value{host="web1",service="disk \\"/var\\"",label="inodes",uom=""} NaN'));
  assert.ok(text.endsWith('\n'));
  // Every sample line is `name{labels} value`.
  for (const l of lines) if (l !== '' && !l.startsWith('#')) assert.match(l, /^[a-z_]+\{.*\} (-?[0-9.e+-]+|NaN|[+-]Inf)$/);
  assert.equal(prometheusText([]), '');
});
