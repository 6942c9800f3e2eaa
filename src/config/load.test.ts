import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClusterText } from './load.ts';
import { problems } from './testing.ts';


test('a minimal file gets every default from the schema', () => {
  const { config } = parseClusterText('services:\n  www:\n    listen: 8080\n    backends: [10.0.0.1:80, { address: "[2001:db8::1]", port: 81, weight: 3, backup: true }]\n', 'c.yaml', { env: {} });
  const s = config.services.www!;
  assert.deepEqual(s.listen, [{ host: '0.0.0.0', port: 8080 }]);
  assert.equal(s.protocol, 'http');
  assert.equal(s.scheduler.name, 'swrr');
  assert.equal(s.timeouts.connect, 5000);
  assert.equal(s.timeouts.keepalive, 75_000);
  assert.deepEqual(s.retry.on, ['error', 'timeout']);
  assert.equal(s.retry.body_buffer, 65_536);
  assert.equal(s.passive.max_fails, 1);
  assert.equal(s.passive.fail_timeout, 10_000);
  assert.equal(s.client.max_headers, 100);
  assert.equal(s.headers.x_forwarded, true);
  assert.equal(s.backends[0]!.id, '10.0.0.1:80');
  assert.equal(s.backends[0]!.weight, 1);
  assert.equal(s.backends[1]!.id, '[2001:db8::1]:81');
  assert.equal(s.backends[1]!.backup, true);
  assert.equal(s.backends[1]!.fail_timeout, undefined, 'a backend override has no default of its own');
  assert.equal(config.log.level, 'info');
  assert.ok(Object.isFrozen(s.backends[0]), 'the loaded config is frozen');
});

test('every problem is reported with file:line:column, path and what was expected', () => {
  const text = [
    'nodes:', // 1
    '  d1: { address: 10.0.0.9, wrkers: 2 }', // 2
    'services:', // 3
    '  www:', // 4
    '    listen: 127.0.0.1:80', // 5
    '    backends:', // 6
    '      - 10.0.0.1:80', // 7
    '      - { address: 10.0.0.2, port: 99999 }', // 8
    '      - { address: 10.0.0.3 }', // 9
    '    timeouts: { connect: soon }', // 10
    '    scheduler: fastest', // 11
  ].join('\n');
  const got = problems(text);
  assert.deepEqual(got, [
    'c.yaml:2:28: nodes.d1.wrkers: unknown key "wrkers"',
    'c.yaml:8:36: services.www.backends[1].port: expected a port number (1-65535)',
    'c.yaml:9:9: services.www.backends[2].port: expected a port: write address: host:port or port: N',
    'c.yaml:10:26: services.www.timeouts.connect: expected a duration such as 500ms, 5s or 2m, got "soon"',
    got.find((l) => l.includes('scheduler'))!,
  ]);
  assert.match(got[4]!, /^c\.yaml:11:16: services\.www\.scheduler: expected a scheduler name \(rr, wrr, swrr, /);
});

test('missing keys, wrong types and YAML syntax errors are located', () => {
  assert.deepEqual(problems('services:\n  www:\n    backends: [a:1]\n'), ['c.yaml:3:5: services.www.listen: missing required key "listen"']);
  assert.match(problems('services: [1, 2]\n')[0]!, /^c\.yaml:1:11: services: expected record/);
  assert.match(problems('services:\n  www: {\n')[0]!, /^c\.yaml:\d+:\d+: /);
  assert.match(problems('a: 1\na: 2\n')[0]!, /^c\.yaml:2:1: Map keys must be unique/);
});

test('cross-field checks: duplicate backends, shared listen addresses, unknown nodes', () => {
  const got = problems(`nodes:
  d1: { address: 10.0.0.1 }
services:
  a:
    listen: 80
    nodes: [d1, d2]
    backends: [10.0.0.5:80, 10.0.0.5:80]
  b:
    listen: 0.0.0.0:80
    backends: [10.0.0.6:80]
`);
  assert.deepEqual(got, [
    'c.yaml:6:17: services.a.nodes[1]: unknown node "d2"; declared nodes: d1',
    'c.yaml:7:29: services.a.backends[1]: backend 10.0.0.5:80 is listed twice (also backends[0])',
    'c.yaml:9:13: services.b.listen[0]: 0.0.0.0:80 is already the listen address of service a',
  ]);
});

test('${VAR} and ${VAR:-default} come from the environment; a missing one is an error', () => {
  const { config } = parseClusterText('services:\n  www:\n    listen: ${PORT}\n    backends: ["${HOST:-10.0.0.1}:80"]\n', 'c.yaml', { env: { PORT: '8080' } });
  assert.equal(config.services.www!.listen[0]!.port, 8080);
  assert.equal(config.services.www!.backends[0]!.host, '10.0.0.1');
  assert.deepEqual(problems('services:\n  www:\n    listen: ${NOPE}\n    backends: [a:1]\n'), [
    'c.yaml:3:13: environment variable NOPE is not set (write ${NOPE:-default} for a default)',
  ]);
});

test('two services may share a listen address on different nodes, not on the same one', () => {
  const base = `nodes:\n  d1: { address: 10.0.0.1 }\n  d2: { address: 10.0.0.2 }\nservices:\n  a: { listen: 0.0.0.0:80, nodes: [d1], backends: [10.0.1.1:80] }\n`;
  const { config } = parseClusterText(`${base}  b: { listen: 0.0.0.0:80, nodes: [d2], backends: [10.0.1.2:80] }\n`, 'c.yaml', { env: {} });
  assert.deepEqual(Object.keys(config.services), ['a', 'b']);
  assert.match(problems(`${base}  b: { listen: 0.0.0.0:80, nodes: [d2, d1], backends: [10.0.1.2:80] }\n`).join('\n'), /services\.b\.listen\[0\]: 0\.0\.0\.0:80 is already the listen address of service a on node d1/);
  assert.match(problems(`${base}  b: { listen: 0.0.0.0:80, backends: [10.0.1.2:80] }\n`).join('\n'), /services\.b\.listen\[0\]: 0\.0\.0\.0:80 is already the listen address of service a$/m);
});
