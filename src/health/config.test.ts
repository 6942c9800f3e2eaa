/** The health module's configuration contract (src/config/health-schema.ts). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { backendHealthOverrideSchema, healthOverrideProblems, healthSchema, outlierSchema, parseStatusRanges } from '../config/health-schema.ts';
import { checkIdentity, resolveBackendCheck, serviceHealthSpec } from './targets.ts';

test('expected status: codes, ranges, classes, lists', () => {
  const table: Array<[spec: Parameters<typeof parseStatusRanges>[0], expected: ReturnType<typeof parseStatusRanges>]> = [
    [200, [[200, 200]]],
    ['200-299', [[200, 299]]],
    ['2xx', [[200, 299]]],
    ['3XX', [[300, 399]]],
    ['200,301-302', [[200, 200], [301, 302]]],
    ['200 204', [[200, 200], [204, 204]]],
    [[200, '301-302', '4xx'], [[200, 200], [301, 302], [400, 499]]],
    ['299-200', 'status range 299-200 is backwards'],
    ['600', 'status 600 is outside 100-599'],
    ['6xx', 'expected a status code or range such as 200, 200-299 or 2xx, got "6xx"'],
    ['20', 'expected a status code or range such as 200, 200-299 or 2xx, got "20"'],
    [[], 'expected at least one status code or range'],
    ['', 'expected a status code or range such as 200, 200-299 or 2xx, got ""'],
  ];
  for (const [spec, expected] of table) assert.deepEqual(parseStatusRanges(spec), expected, JSON.stringify(spec));
});

describe('health schema', () => {
  test('defaults: a tcp check every 2s, timeout 1s, rise 2, fall 3, jitter 10%, start up', () => {
    assert.deepEqual(healthSchema.parse({}), {
      type: 'tcp',
      interval: 2000,
      timeout: 1000,
      rise: 2,
      fall: 3,
      jitter: { kind: 'fraction', value: 0.1 },
      start: 'up',
      slow_start: 0,
      quorum: 1,
      quorum_hysteresis: 0,
    });
  });

  test('http defaults and units', () => {
    const h = healthSchema.parse({ type: 'https', path: '/health', interval: '500ms', fast_interval: 0.2, jitter: '50ms', expect_status: ['2xx', 301], digest: 'D41D8CD98F00B204E9800998ECF8427E' });
    assert.equal(h.type, 'https');
    if (h.type !== 'https') return;
    assert.equal(h.method, 'GET');
    assert.equal(h.interval, 500);
    assert.equal(h.fast_interval, 200);
    assert.equal(h.down_interval, undefined);
    assert.deepEqual(h.jitter, { kind: 'ms', value: 50 });
    assert.deepEqual(h.expect_status, [[200, 299], [301, 301]]);
    assert.equal(h.digest, 'd41d8cd98f00b204e9800998ecf8427e');
    assert.equal(h.max_body, 65536);
    assert.equal(h.verify, false);
  });

  const errors: Array<{ name: string; input: unknown; path: string; message: RegExp }> = [
    { name: 'unknown type', input: { type: 'htp' }, path: 'type', message: /^expected type: http, https, tcp, exec, agent$/ },
    { name: 'a key of another type', input: { type: 'tcp', path: '/x' }, path: '', message: /Unrecognized key: "path"/ },
    { name: 'exec command as a string (no shell)', input: { type: 'exec', command: 'check --x' }, path: 'command', message: /never runs through a shell/ },
    { name: 'agent without port', input: { type: 'agent' }, path: 'port', message: /port number/ },
    { name: 'bad duration', input: { interval: 'soon' }, path: 'interval', message: /expected a duration/ },
    { name: 'interval too short', input: { interval: '1ms' }, path: 'interval', message: /at least 10ms/ },
    { name: 'jitter as a bare number above 1', input: { jitter: 2 }, path: 'jitter', message: /write 2s for seconds/ },
    { name: 'bad regex', input: { type: 'http', expect_body: '(' }, path: 'expect_body', message: /valid regular expression/ },
    { name: 'bad digest', input: { type: 'http', digest: 'abc' }, path: 'digest', message: /32 hex digits/ },
    { name: 'bad status', input: { type: 'http', expect_status: ['20x'] }, path: 'expect_status', message: /got "20x"/ },
    { name: 'Host in headers', input: { type: 'http', headers: { Host: 'x' } }, path: 'headers', message: /host:/ },
    { name: 'send and send_hex', input: { type: 'tcp', send: 'a', send_hex: '00' }, path: 'send_hex', message: /not both/ },
    { name: 'odd hex', input: { type: 'tcp', expect_hex: '0d0' }, path: 'expect_hex', message: /hex bytes/ },
    { name: 'rise 0', input: { rise: 0 }, path: 'rise', message: /./ },
  ];
  for (const row of errors) {
    test(`rejects ${row.name} at its path`, () => {
      const r = healthSchema.safeParse(row.input);
      assert.equal(r.success, false);
      const issue = r.error!.issues[0]!;
      assert.equal(issue.path.join('.'), row.path);
      assert.match(issue.message, row.message);
    });
  }

  test('the error path is the full path inside a cluster file', () => {
    const wrapper = z.object({ services: z.record(z.string(), z.object({ health: healthSchema })) });
    const r = wrapper.safeParse({ services: { www: { health: { type: 'http', expect_status: 'abc' } } } });
    assert.deepEqual(r.error?.issues[0]?.path, ['services', 'www', 'health', 'expect_status']);
  });
});

describe('per-backend override', () => {
  const svc = healthSchema.parse({ type: 'http', path: '/health', interval: '2s' });

  test('overrides merge onto the service check', () => {
    const o = backendHealthOverrideSchema.parse({ port: 8081, interval: '5s', path: '/status' });
    assert.deepEqual(healthOverrideProblems(svc, o), []);
    const r = resolveBackendCheck(svc, o);
    assert.equal(r?.type, 'http');
    assert.equal(r?.interval, 5000);
    assert.equal(r?.port, 8081);
    assert.equal(r?.type === 'http' && r.path, '/status');
    assert.equal(r?.type === 'http' && r.method, 'GET');
  });

  test('enabled: false means no active check for this backend', () => {
    assert.equal(resolveBackendCheck(svc, backendHealthOverrideSchema.parse({ enabled: false })), undefined);
  });

  test('fields of another check type are problems, as are overrides without a service check', () => {
    const o = backendHealthOverrideSchema.parse({ command: ['x'], rise: 1 });
    assert.deepEqual(healthOverrideProblems(svc, o), [{ path: ['command'], message: `"command" does not apply to the service's http check` }]);
    assert.equal(healthOverrideProblems(undefined, o).length, 2);
    assert.deepEqual(healthOverrideProblems(undefined, backendHealthOverrideSchema.parse({ enabled: false })), []);
    const tcp = healthSchema.parse({ send: 'PING\r\n' });
    assert.deepEqual(healthOverrideProblems(tcp, backendHealthOverrideSchema.parse({ send_hex: '00' })), [{ path: ['send_hex'], message: 'the check would have both send and send_hex' }]);
  });

  test('the override schema is strict and knows no service-level keys', () => {
    assert.equal(backendHealthOverrideSchema.safeParse({ quorum: 1 }).success, false);
    assert.equal(backendHealthOverrideSchema.safeParse({ type: 'tcp' }).success, false);
  });
});

test('passive defaults are nginx-compatible; Envoy detectors are off until set', () => {
  assert.deepEqual(outlierSchema.parse(undefined), {
    max_fails: 1,
    fail_timeout: 10_000,
    fail_status: [],
    consecutive_5xx: 0,
    consecutive_gateway_failure: 0,
    base_ejection_time: 30_000,
    max_ejection_time: 300_000,
    max_ejection_percent: 50,
    panic_threshold: 0,
  });
  assert.equal(outlierSchema.safeParse({ base_ejection_time: '1m', max_ejection_time: '30s' }).error?.issues[0]?.path.join('.'), 'max_ejection_time');
});

test('check identity: what is probed, not how often', () => {
  const a = healthSchema.parse({ type: 'http', path: '/a' });
  const sameProbe = healthSchema.parse({ type: 'http', path: '/a', interval: '10s', rise: 5, fall: 1, jitter: 0, start: 'down' });
  const otherPath = healthSchema.parse({ type: 'http', path: '/b' });
  const otherPort = healthSchema.parse({ type: 'http', path: '/a', port: 81 });
  assert.equal(checkIdentity(a), checkIdentity(sameProbe));
  assert.notEqual(checkIdentity(a), checkIdentity(otherPath));
  assert.notEqual(checkIdentity(a), checkIdentity(otherPort));
  assert.equal(checkIdentity(undefined), 'none');
});

test('serviceHealthSpec reads the service and backend config', () => {
  const spec = serviceHealthSpec('www', {
    health: healthSchema.parse({ type: 'http', quorum: 2 }),
    passive: outlierSchema.parse({}),
    backends: [
      { id: '10.0.0.1:80', host: '10.0.0.1', port: 80, weight: 1 },
      { id: '10.0.0.2:80', host: '10.0.0.2', port: 80, weight: 3, health: backendHealthOverrideSchema.parse({ enabled: false }), max_fails: 5 },
    ],
  });
  assert.equal(spec.targets[0]?.check?.type, 'http');
  assert.equal(spec.targets[1]?.check, undefined);
  assert.equal(spec.targets[1]?.max_fails, 5);
  assert.deepEqual(spec.quorum, { quorum: 2, hysteresis: 0 });
});
