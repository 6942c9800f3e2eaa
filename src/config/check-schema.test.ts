import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { checkSchema } from './check-schema.ts';

const wrap = z.strictObject({ check: checkSchema });

function problems(check: unknown): string[] {
  const r = wrap.safeParse({ check });
  assert.equal(r.success, false, 'expected an error');
  return r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

test('a plugin check: argument array, defaults for timeout, env and output cap', () => {
  const c = checkSchema.parse({ plugin: ['/usr/lib/nagios/plugins/check_load', '-w', '5,4,3', '-c', 10] });
  assert.deepEqual(c, { plugin: ['/usr/lib/nagios/plugins/check_load', '-w', '5,4,3', '-c', '10'], timeout: 10_000, env: {}, max_output: 65_536 });
  assert.equal(checkSchema.parse({ plugin: ['/bin/true'], timeout: '2s' }).timeout, 2_000);
});

test('built-in checks get their defaults', () => {
  assert.deepEqual(checkSchema.parse({ builtin: 'load' }), { builtin: 'load', timeout: 10_000, warning: ['5', '4', '3'], critical: ['10', '6', '4'], per_cpu: false });
  const load = checkSchema.parse({ builtin: 'load', warning: 2, critical: [3, '4', '~:5'] });
  assert.ok('builtin' in load && load.builtin === 'load');
  assert.deepEqual([load.warning, load.critical], [['2', '2', '2'], ['3', '4', '~:5']]);
  assert.deepEqual(checkSchema.parse({ builtin: 'disk', path: '/', critical: '512m' }), {
    builtin: 'disk', timeout: 10_000, path: '/', warning: { kind: 'percent', value: 20 }, critical: { kind: 'bytes', value: 512 * 1024 * 1024 },
  });
  assert.deepEqual(checkSchema.parse({ builtin: 'procs', command: 'nginx', critical: '1:' }), { builtin: 'procs', timeout: 10_000, command: 'nginx', critical: '1:' });
  const t = checkSchema.parse({ builtin: 'tcp', port: 80, warning: '200ms' });
  assert.deepEqual(t, { builtin: 'tcp', timeout: 10_000, host: '127.0.0.1', port: 80, mismatch: 'WARNING', warning: 200 });
  const m = checkSchema.parse({ builtin: 'mysql_replica' });
  assert.ok('builtin' in m && m.builtin === 'mysql_replica');
  assert.equal(`${m.port} ${m.warning} ${m.critical}`, '3306 60 300');
  assert.equal(checkSchema.parse({ builtin: 'fs_responsive', path: '/srv' }).timeout, 5_000);
});

test('errors name the option and what was expected', () => {
  const table: Array<[unknown, RegExp]> = [
    [{ plugin: ['check_load'] }, /^check\.plugin: expected an absolute path/],
    [{ plugin: [] }, /^check\.plugin: expected at least the plugin path/],
    [{ plugin: 'check_load -w 5' }, /^check\.plugin: expected the plugin and its arguments as a list/],
    [{ builtin: 'nope' }, /^check\.builtin: expected builtin to be one of load, swap/],
    [{ builtin: 'load', warning: '5,4' }, /^check\.warning: expected one threshold range or three/],
    [{ builtin: 'procs', critical: '5:1' }, /^check\.critical: threshold range "5:1" starts above its end/],
    [{ builtin: 'procs', state: 'Q' }, /^check\.state: expected process state letters/],
    [{ builtin: 'tcp', port: 80, extra: 1 }, /^check: Unrecognized key: "extra"/],
    [{ builtin: 'tcp' }, /^check\.port: expected a port number/],
    [{ builtin: 'http', url: 'ftp://x' }, /^check\.url: expected an http:\/\/ or https:\/\/ URL/],
    [{ builtin: 'disk', path: '/', warning: '120%' }, /^check\.warning: expected a free-space threshold/],
    [{ builtin: 'disk' }, /^check\.path: expected the mount point/],
    [{ builtin: 'swap', no_swap: 'BAD' }, /^check\.no_swap: expected OK, WARNING, CRITICAL or UNKNOWN/],
    [{}, /^check: expected a check: \{ plugin: /],
    ['check_load', /^check: expected a check/],
  ];
  for (const [input, re] of table) {
    const p = problems(input);
    assert.ok(p.some((m) => re.test(m)), `${JSON.stringify(input)} gave ${JSON.stringify(p)}`);
  }
});
