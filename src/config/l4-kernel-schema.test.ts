import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClusterText } from './load.ts';
import { problems } from './testing.ts';


const head = 'services:\n  s:\n    protocol: tcp\n    listen: 192.0.2.10:80\n';

test('mode nat and dr parse with their defaults; proxy stays the default', () => {
  const { config } = parseClusterText(`${head}    mode: nat\n    scheduler: wrr\n    backends: [10.0.0.1:8080, { address: 10.0.0.2:8080, weight: 3 }]\n  d:\n    protocol: udp\n    mode: dr\n    listen: 192.0.2.10:53\n    scheduler: sh\n    kernel: { interface: eth0, macs: { 10.0.0.1: "02:00:00:00:00:01" } }\n    backends: [10.0.0.1:53]\n  p:\n    protocol: tcp\n    listen: 81\n    backends: [10.0.0.1:81]\n`, 'c.yaml', { env: {} });
  const s = config.services.s!;
  assert.ok(s.protocol === 'tcp');
  assert.equal(s.mode, 'nat');
  assert.equal(s.kernel, undefined);
  const d = config.services.d!;
  assert.ok(d.protocol === 'udp');
  assert.equal(d.mode, 'dr');
  assert.deepEqual(d.kernel, { interface: 'eth0', macs: { '10.0.0.1': '02:00:00:00:00:01' }, counters: true });
  const p = config.services.p!;
  assert.ok(p.protocol === 'tcp');
  assert.equal(p.mode, 'proxy');
});

test('options that do not apply in a kernel mode are refused by name, with where and why', () => {
  const table: [string, RegExp][] = [
    ['    mode: nat\n    proxy_protocol: v2\n    backends: [10.0.0.1:80]\n', /c\.yaml:\d+:\d+: services\.s\.proxy_protocol: proxy_protocol does not apply in mode: nat \(the kernel does not add bytes/],
    ['    mode: dr\n    kernel: { interface: eth0 }\n    idle_timeout: 5m\n    backends: [10.0.0.1:80]\n', /services\.s\.idle_timeout: idle_timeout does not apply in mode: dr \(conntrack/],
    ['    mode: nat\n    persistence: { timeout: 120s }\n    backends: [10.0.0.1:80]\n', /services\.s\.persistence: persistence does not apply in mode: nat .*scheduler: sh/],
    ['    mode: nat\n    scheduler: wlc\n    backends: [10.0.0.1:80]\n', /services\.s\.scheduler: scheduler wlc is not available in mode nat; the kernel modes offer rr, wrr, swrr, sh/],
    ['    mode: dr\n    kernel: { interface: eth0 }\n    backends: [10.0.0.1:8080]\n', /services\.s\.backends\[0\]: mode dr cannot map ports \(LVS -g\): backend port 8080 differs from the service port 80/],
    ['    mode: dr\n    backends: [10.0.0.1:80]\n', /services\.s\.kernel\.interface: mode dr needs the director's interface/],
    ['    mode: nat\n    kernel: { interface: eth0 }\n    backends: [10.0.0.1:80]\n', /services\.s\.kernel\.interface: interface is an option of mode dr/],
    ['    mode: dr\n    kernel: { interface: eth0, replies: route }\n    backends: [10.0.0.1:80]\n', /services\.s\.kernel\.replies: replies is an option of mode nat/],
    ['    kernel: { replies: snat }\n    backends: [10.0.0.1:80]\n', /services\.s\.kernel: kernel applies only with mode: nat or dr/],
    ['    mode: nat\n    backends: [web1.example:80]\n', /services\.s\.backends\[0\]: mode nat needs backends as IPv4 addresses, got web1\.example/],
    ['    mode: nat\n    backends: [{ address: 10.0.0.1:80, max_conns: 5 }]\n', /services\.s\.backends\[0\]\.max_conns: max_conns is not available in mode nat/],
    ['    mode: nat\n    on_down: shutdown-sessions\n    backends: [10.0.0.1:80]\n', /services\.s\.on_down: on_down: shutdown-sessions is not available in mode nat/],
    ['    mode: lvs\n    backends: [10.0.0.1:80]\n', /services\.s\.mode: expected one of "proxy", "nat", "dr"/],
    ['    mode: dr\n    kernel: { interface: eth0, macs: { 10.0.0.1: "zz" } }\n    backends: [10.0.0.1:80]\n', /services\.s\.kernel\.macs\.10\.0\.0\.1: expected a MAC address/],
  ];
  for (const [body, re] of table) {
    const ps = problems(head + body);
    assert.ok(ps.some((p) => re.test(p)), `${body}\n→ ${ps.join('\n')}`);
  }
  const wild = problems('services:\n  s:\n    protocol: tcp\n    mode: nat\n    listen: 80\n    backends: [10.0.0.1:80]\n');
  assert.ok(wild.some((p) => /services\.s\.listen\[0\]: mode nat needs the virtual address as one IPv4 address/.test(p)), wild.join('\n'));
});
