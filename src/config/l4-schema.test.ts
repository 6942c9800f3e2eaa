import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCidr } from './l4-schema.ts';
import { parseClusterText } from './load.ts';
import { problems } from './testing.ts';


test('a tcp service gets the layer-4 defaults and the shared options', () => {
  const { config } = parseClusterText('services:\n  media:\n    protocol: tcp\n    listen: 1755\n    scheduler: rr\n    persistence: { timeout: 3600s }\n    backends: [10.0.0.1:1755]\n', 'c.yaml', { env: {} });
  const s = config.services.media!;
  assert.equal(s.protocol, 'tcp');
  if (s.protocol !== 'tcp') return;
  assert.equal(s.connect_timeout, 5_000);
  assert.equal(s.connect_tries, 0);
  assert.equal(s.idle_timeout, 900_000);
  assert.equal(s.half_close_timeout, 120_000);
  assert.equal(s.proxy_protocol, undefined);
  assert.equal(s.accept_proxy_protocol, undefined);
  assert.equal(s.persistence?.timeout, 3_600_000);
  assert.equal(s.on_down, 'keep');
  assert.equal(s.passive.max_fails, 1);
});

test('a udp service gets its defaults; tcp and udp may share a port', () => {
  const text = 'services:\n  rtsp:\n    protocol: tcp\n    listen: 554\n    backends: [10.0.0.1:554]\n  rtsp-udp:\n    protocol: udp\n    listen: 554\n    backends: [10.0.0.1:554]\n';
  const { config } = parseClusterText(text, 'c.yaml', { env: {} });
  const u = config.services['rtsp-udp']!;
  assert.equal(u.protocol, 'udp');
  if (u.protocol !== 'udp') return;
  assert.equal(u.idle_timeout, 300_000);
  assert.equal(u.max_flows, 65_536);
});

test('options of the wrong kind of service are refused by name, with file:line:column', () => {
  const table: [string, RegExp][] = [
    ['    protocol: tcp\n    retry: { tries: 2 }\n', /c\.yaml:\d+:\d+: services\.s\.retry: retry is an option of http services; a tcp service does not take it/],
    ['    protocol: udp\n    headers: { via: x }\n', /services\.s\.headers: headers is an option of http services; a udp service does not take it/],
    ['    protocol: udp\n    proxy_protocol: v1\n', /services\.s\.proxy_protocol: proxy_protocol is an option of tcp services; a udp service does not take it/],
    ['    connect_timeout: 2s\n', /services\.s\.connect_timeout: connect_timeout is an option of tcp\/udp services, not of this http service/],
    ['    protocol: sctp\n', /services\.s\.protocol: expected protocol: http, tcp or udp/],
    ['    protocol: tcp\n    proxy_protocol: v3\n', /services\.s\.proxy_protocol: expected one of "v1", "v2"/],
    ['    protocol: tcp\n    accept_proxy_protocol: [10.0.0.0/33]\n', /services\.s\.accept_proxy_protocol\[0\]: expected an address or network .*got "10\.0\.0\.0\/33"/],
    ['    protocol: tcp\n    bogus: 1\n', /services\.s\.bogus: unknown key "bogus"/],
  ];
  for (const [extra, expected] of table) {
    const p = problems(`services:\n  s:\n    listen: 9000\n    backends: [10.0.0.1:80]\n${extra}`);
    assert.ok(p.some((x) => expected.test(x)), `${JSON.stringify(extra)} → ${p.join(' | ')}`);
  }
});

test('two tcp services cannot share a listen address', () => {
  const p = problems('services:\n  a:\n    protocol: tcp\n    listen: 9000\n    backends: [10.0.0.1:80]\n  b:\n    protocol: tcp\n    listen: 9000\n    backends: [10.0.0.1:80]\n');
  assert.ok(p.some((x) => /0\.0\.0\.0:9000 is already the listen address of service a/.test(x)), p.join(' | '));
});

test('parseCidr from a table', () => {
  const table: [string, ReturnType<typeof parseCidr>][] = [
    ['10.0.0.0/8', { address: '10.0.0.0', prefix: 8, family: 'ipv4' }],
    ['192.0.2.7', { address: '192.0.2.7', prefix: 32, family: 'ipv4' }],
    ['2001:db8::/32', { address: '2001:db8::', prefix: 32, family: 'ipv6' }],
    ['::1', { address: '::1', prefix: 128, family: 'ipv6' }],
    ['10.0.0.0/33', undefined],
    ['10.0.0/8', undefined],
    ['host.example', undefined],
    ['10.0.0.0/', undefined],
  ];
  for (const [text, want] of table) assert.deepEqual(parseCidr(text), want, text);
});
