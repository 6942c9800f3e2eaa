import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FIREWALL_DEFAULTS, firewallSettingsFor } from './firewall-schema.ts';
import { parseClusterText } from './load.ts';
import { problems } from './testing.ts';

const NODES = 'nodes:\n  d1: { address: 192.0.2.1 }\n  d2: { address: 192.0.2.2 }\n';


test('firewall: absent means none; present gets every default; a node override merges key by key', () => {
  assert.equal(parseClusterText(NODES, 'c.yaml', { env: {} }).config.firewall, undefined);
  const fw = parseClusterText(`${NODES}firewall:\n  public_interfaces: [eth0]\n  ssh: { sources: [198.51.100.0/24] }\n  nodes:\n    d2: { ssh: { port: 2222 }, allow: { udp: [53] } }\n`, 'c.yaml', { env: {} }).config.firewall!;
  assert.deepEqual(firewallSettingsFor(fw, 'd1'), { ...FIREWALL_DEFAULTS, public_interfaces: ['eth0'], ssh: { port: 22, sources: ['198.51.100.0/24'] } });
  const d2 = firewallSettingsFor(fw, 'd2');
  assert.deepEqual(d2.ssh, { port: 2222, sources: ['198.51.100.0/24'] });
  assert.deepEqual(d2.allow, { tcp: [], udp: [{ from: 53, to: 53 }] });
  assert.deepEqual(d2.public_interfaces, ['eth0']);
  assert.equal(d2.syn_limit.rate, 100);
});

test('bad firewall values are reported with their path and what was expected', () => {
  const got = problems(`${NODES}firewall:\n  ssh: { port: 0, sources: [10.0.0.0/40] }\n  allow: { tcp: ["90-80"] }\n  public_interfaces: ["eth 0"]\n  syn_limit: { timeout: 1500ms }\n  bogus: 1\n`);
  const want = [
    /firewall\.ssh\.port: expected a port number/,
    /firewall\.ssh\.sources\[0\]: expected an IPv4 or IPv6 address or network.*got "10\.0\.0\.0\/40"/,
    /firewall\.allow\.tcp\[0\]: expected a port \(1-65535\) or a range such as "8000-8010", got "90-80"/,
    /firewall\.public_interfaces\[0\]: expected an interface name/,
    /firewall\.syn_limit\.timeout: expected whole seconds/,
    /firewall.*bogus/,
  ];
  for (const re of want) assert.ok(got.some((p) => re.test(p)), `${re} in:\n${got.join('\n')}`);
});

test('firewall.nodes must name declared nodes', () => {
  assert.ok(problems(`${NODES}firewall:\n  nodes:\n    d9: { enabled: false }\n`).some((p) => /firewall\.nodes\.d9: unknown node "d9"; declared nodes: d1, d2/.test(p)));
});
