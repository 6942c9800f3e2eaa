/**
 * The generated ruleset, from tables: what each setting puts into the text, and
 * `nft -c` (check mode, in a throw-away network namespace) accepting the output.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { parseClusterText } from '../config/load.ts';
import { findNft } from './nft.ts';
import { planFirewall } from './plan.ts';
import type { FirewallPlan } from './plan.ts';
import { renderRuleset, SCAN_RULES } from './render.ts';

const BASE = `cluster: { name: edge }
nodes:
  d1: { address: 192.0.2.1 }
  d2: { address: 192.0.2.2 }
services:
  www: { listen: [80, "[::]:443", "192.0.2.10:8080", "127.0.0.1:9000"], backends: [10.0.0.1:80, 10.0.0.2:80] }
  dns: { protocol: udp, listen: 53, backends: [10.0.0.3:53] }
  only2: { listen: 8888, nodes: [d2], backends: [10.0.0.4:80] }
vrrp:
  instances:
    VI_1: { vrid: 51, interface: eth0, virtual_ipaddress: [192.0.2.10/24], members: { d1: 150, d2: 100 } }
`;

function planOf(firewall: string, node = 'd1', extra = ''): FirewallPlan {
  const { config } = parseClusterText(`${BASE}${extra}firewall:\n${firewall}`, 'c.yaml', { env: {} });
  const services = Object.entries(config.services)
    .filter(([, s]) => s.nodes === undefined || s.nodes.includes(node))
    .map(([n]) => n);
  return planFirewall(config, node, services);
}

function rulesetOf(firewall: string, node = 'd1', extra = ''): string {
  return renderRuleset(planOf(firewall, node, extra));
}

const FULL = `  public_interfaces: [eth0, eth1]
  ssh: { port: 2222, sources: [198.51.100.0/24, 198.51.100.7, "2001:db8:1::/48"] }
  agent: { ports: [5666, 5667], sources: [192.0.2.50] }
  allow: { tcp: ["6000-6010"], udp: [514] }
  icmp: { echo_rate: 5, echo_burst: 8 }
  syn_limit: { rate: 30, burst: 60, table_size: 1024, timeout: 2m }
  anti_spoofing: { exclude: [172.16.5.0/24] }
  nodes:
    d2: { ssh: { port: 22 }, syn_limit: { enabled: false }, drop_scan_flags: false }
`;

test('the ruleset replaces only table inet palisade, in one transaction, with no flush ruleset', () => {
  const text = rulesetOf(FULL);
  const lines = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  assert.deepEqual(lines.slice(0, 3), ['table inet palisade {}', 'delete table inet palisade', 'table inet palisade {']);
  assert.doesNotMatch(text, /flush ruleset/);
  assert.deepEqual([...text.matchAll(/^(?:table|delete table) (\S+ \S+)/gm)].map((m) => m[1]), ['inet palisade', 'inet palisade', 'inet palisade']);
  assert.match(text, /chain input \{\n\t\ttype filter hook input priority filter; policy drop;/);
});

test('rules from the settings and the rest of the cluster file (table of expected lines)', () => {
  const text = rulesetOf(FULL);
  const expected: [string, RegExp][] = [
    ['loopback first', /policy drop;\n\t\tiifname "lo" accept\n\t\tct state established,related accept\n\t\tct state invalid counter name ct_invalid drop\n/],
    ['services on every address: tcp ports of http services', /\ttcp dport \{ 80, 443 \} accept comment "services www"/],
    ['a service on one address: only to that address', /\tip daddr 192\.0\.2\.10 tcp dport 8080 accept/],
    ['udp services open a udp port', /\tudp dport 53 accept comment "services dns"/],
    ['extra ports and ranges', /\ttcp dport 6000-6010 accept comment "firewall\.allow\.tcp"\n\t\tudp dport 514 accept/],
    ['ssh from its sources only (the /32 inside the /24 is dropped from the list)', /\tip saddr 198\.51\.100\.0\/24 tcp dport 2222 accept comment "ssh"\n\t\tip6 saddr 2001:db8:1::\/48 tcp dport 2222 accept comment "ssh"\n\t\ttcp dport 2222 counter name ssh_denied drop/],
    ['agent from the monitor only', /\tip saddr 192\.0\.2\.50 tcp dport \{ 5666, 5667 \} accept comment "agent from the monitor"\n\t\ttcp dport \{ 5666, 5667 \} counter name agent_denied drop/],
    ['vrrp from the peer director to the multicast group', /\tip saddr 192\.0\.2\.2 ip daddr 224\.0\.0\.18 ip protocol vrrp accept comment "vrrp VI_1"/],
    ['syn limit per IPv4 source', /update @syn_v4 \{ ip saddr limit rate over 30\/second burst 60 packets \} counter name syn_flood drop/],
    ['syn limit per IPv6 /64', /update @syn_v6 \{ ip6 saddr & ffff:ffff:ffff:ffff:: limit rate over 30\/second burst 60 packets \}/],
    ['syn meter size and timeout', /set syn_v4 \{\n\t\ttype ipv4_addr\n\t\tsize 1024\n\t\tflags dynamic,timeout\n\t\ttimeout 120s\n/],
    ['echo rate', /icmp type echo-request limit rate 5\/second burst 8 packets accept/],
    ['path MTU discovery', /icmpv6 type \{ destination-unreachable, packet-too-big, time-exceeded, parameter-problem \} accept/],
    ['anti-spoofing on the public interfaces', /iifname \{ "eth0", "eth1" \} ip saddr @spoof_v4 ip saddr != @trusted_v4 counter name spoofed_source drop/],
    ['the cluster networks are exempt: VIP network, backends, ssh and agent sources, exclude', /set trusted_v4 \{\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = \{ 10\.0\.0\.1, 10\.0\.0\.2, 10\.0\.0\.3, 10\.0\.0\.4, 172\.16\.5\.0\/24, 192\.0\.2\.0\/24, 198\.51\.100\.0\/24 \}/],
    ['the default drop is counted', /\tcounter name input_dropped drop\n\t\}\n\}\n$/],
  ];
  for (const [what, re] of expected) assert.match(text, re, what);
  for (const sc of SCAN_RULES) assert.match(text, new RegExp(`\\t${sc.match.replace(/[|()&]/g, '\\$&')} counter name ${sc.counter} drop\\n`), sc.counter);
  assert.doesNotMatch(text, /dport 9000/, 'a loopback listener opens nothing (lo is accepted)');
  assert.doesNotMatch(text, /8888/, 'a service of another node opens nothing here');
});

test('every drop rule carries a named counter, each declared', () => {
  const text = rulesetOf(FULL);
  const declared = new Set([...text.matchAll(/^\tcounter (\S+) \{$/gm)].map((m) => m[1]));
  for (const line of text.split('\n').filter((l) => /\bdrop$/.test(l.trim()) && !l.includes('policy'))) {
    const m = /counter name (\S+) drop$/.exec(line.trim());
    assert.ok(m, `drop rule without a named counter: ${line.trim()}`);
    assert.ok(declared.has(m[1]), `counter ${m[1]} is not declared`);
  }
});

test('a node override replaces the keys it sets and keeps the others', () => {
  const text = rulesetOf(FULL, 'd2');
  assert.match(text, /tcp dport 22 counter name ssh_denied drop/);
  assert.match(text, /ip saddr 198\.51\.100\.0\/24 tcp dport 22 accept/, 'sources come from the cluster-wide ssh');
  assert.doesNotMatch(text, /@syn_v4|set syn_v4/, 'syn_limit disabled on d2');
  assert.doesNotMatch(text, /scan_null drop/, 'drop_scan_flags off on d2');
  assert.match(text, /tcp dport \{ 80, 443, 8888 \} accept comment "services www, only2"/);
  assert.match(text, /ip saddr 192\.0\.2\.1 ip daddr 224\.0\.0\.18 ip protocol vrrp accept/, 'd2 accepts VRRP from d1');
});

test('vrrp: unicast goes to our own address; the udp transport opens its port to the peers; off when vrrp: false', () => {
  const uni = `vrrp:\n  instances:\n    VI_1: { vrid: 51, interface: eth0, unicast: true, unicast_peers: [203.0.113.9], virtual_ipaddress: [192.0.2.10/24], members: { d1: 150, d2: 100 } }\n`;
  const base = BASE.replace(/vrrp:[\s\S]*$/, '');
  const p = (fw: string, v: string) => {
    const { config } = parseClusterText(`${base}${v}firewall:\n${fw}`, 'c.yaml', { env: {} });
    return renderRuleset(planFirewall(config, 'd1', ['www']));
  };
  assert.match(p('  public_interfaces: [eth0]\n', uni), /ip saddr \{ 192\.0\.2\.2, 203\.0\.113\.9 \} ip daddr 192\.0\.2\.1 ip protocol vrrp accept/);
  const udp = uni.replace('unicast: true, unicast_peers: [203.0.113.9], ', 'transport: udp, udp_port: 5600, ');
  assert.match(p('  public_interfaces: [eth0]\n', udp), /ip saddr 192\.0\.2\.2 udp dport 5600 accept comment "vrrp VI_1 \(udp transport\)"/);
  assert.doesNotMatch(p('  public_interfaces: [eth0]\n  vrrp: false\n', uni), /vrrp/);
});

test('warnings: SSH closed to everyone, no public interface, an open port that is the SSH port', () => {
  const plan = planOf('  allow: { tcp: ["20-30"] }\n');
  assert.deepEqual(plan.warnings, [
    'port 20-30 (firewall.allow.tcp) includes the SSH port 22: it is open to every source, not only ssh.sources',
    'ssh.sources is empty: SSH (port 22) is closed to everyone on this node',
    'public_interfaces is empty: anti-spoofing has no interface to watch and drops nothing',
  ]);
  assert.match(renderRuleset(plan), /^# warning: ssh\.sources is empty/m);
  assert.doesNotMatch(renderRuleset(plan), /tcp dport 22 accept/);
});

test('no firewall: section, or a node with enabled: false, is refused with the reason', () => {
  const { config } = parseClusterText(BASE, 'c.yaml', { env: {} });
  assert.throws(() => planFirewall(config, 'd1', []), /no firewall: section/);
  assert.throws(() => planOf('  nodes:\n    d1: { enabled: false }\n'), /disabled for node d1/);
});

test('nft accepts the generated ruleset (nft -c in a throw-away network namespace)', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root: nft -c asks the kernel, in a new network namespace (unshare -n)');
  const nft = await findNft();
  assert.ok(nft, 'nft is missing: apt-get install nftables (scripts/setup-test-host.sh)');
  for (const [name, fw, node] of [
    ['everything', FULL, 'd1'],
    ['node override', FULL, 'd2'],
    ['defaults only', '  public_interfaces: [eth0]\n', 'd1'],
    ['almost nothing on', '  drop_scan_flags: false\n  anti_spoofing: { enabled: false }\n  syn_limit: { enabled: false }\n  service_ports: false\n', 'd1'],
  ] as const) {
    const text = rulesetOf(fw, node);
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      const child = execFile('unshare', ['--net', nft, '-c', '-f', '-'], { timeout: 20_000 }, (err, _out, stderr) => resolve({ code: err === null ? 0 : Number((err as { code?: number }).code ?? -1), stderr }));
      child.stdin?.end(text);
    });
    assert.equal(r.code, 0, `${name}: nft -c refused the ruleset: ${r.stderr}\n${text}`);
  }
});
