import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClusterText } from '../config/load.ts';
import { silentLogger } from '../core/logger.ts';
import { Nft, NftError } from '../firewall/nft.ts';
import { KernelL4 } from './l4-kernel.ts';

const FILE = `nodes:
  d1: { address: 192.0.2.11 }
  d2: { address: 192.0.2.12 }
vrrp:
  instances:
    VI_1: { vrid: 51, interface: eth0, virtual_ipaddress: [192.0.2.10/24], members: { d1: 150, d2: 100 } }
services:
  web:
    protocol: tcp
    mode: nat
    listen: 192.0.2.10:80
    scheduler: rr
    backends: [10.0.0.1:8080, 10.0.0.2:8080]
`;

/** A KernelL4 over a recording nft: every `nft -f` text, and counters answered from `counters`. */
function harness(opts: { refuse?: boolean } = {}) {
  const loads: string[] = [];
  const nft = new Nft(async (args, input) => {
    if (args[0] === '-j') return { stdout: JSON.stringify({ nftables: [{ counter: { family: 'ip', table: 'palisade_lb', name: 'c_0_0', packets: 4, bytes: 240 } }] }), stderr: '' };
    if (opts.refuse === true) throw new NftError('refused', 'nft -f - failed: Error: Could not process rule', 'Error');
    loads.push(input ?? '');
    return { stdout: '', stderr: '' };
  });
  const k = new KernelL4({ log: silentLogger(), nft });
  return { k, loads };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

test('a service on a VRRP VIP enters the kernel only while the VIP is held, and leaves when it is lost', async () => {
  const { config } = parseClusterText(FILE, 'c.yaml', { env: {} });
  const { k, loads } = harness();
  k.setVipHosts(['192.0.2.10']);
  await k.apply(config, ['web']);
  // the first transaction only removes what a killed daemon may have left; no rule while the VIP is not held
  assert.equal(loads.length, 1);
  assert.doesNotMatch(loads[0]!, /table ip palisade_lb \{\n/);
  await k.setVipsHeld(['192.0.2.10'], true);
  assert.match(loads.at(-1)!, /ip daddr 192\.0\.2\.10 tcp dport 80 jump s0/);
  await k.setVipsHeld(['192.0.2.10'], false);
  assert.doesNotMatch(loads.at(-1)!, /table ip palisade_lb \{\n/);
  assert.match(loads.at(-1)!, /delete table ip palisade_lb/);
  await k.close();
});

test('a health flip is one transaction without the backend; its counter value is carried over; close removes only our tables', async () => {
  const { config } = parseClusterText(FILE.replace(/vrrp:[^]*?services:/, 'services:'), 'c.yaml', { env: {} });
  const { k, loads } = harness();
  await k.apply(config, ['web']);
  assert.equal(loads.length, 1);
  assert.match(loads[0]!, /jump s0_b1/);
  k.setBackendState('web', '10.0.0.2:8080', 'down');
  k.setBackendState('web', '10.0.0.2:8080', 'down'); // no change: no transaction
  await settle();
  assert.equal(loads.length, 2);
  assert.doesNotMatch(loads[1]!, /jump s0_b1/);
  assert.match(loads[1]!, /counter c_0_0 \{ packets 4 bytes 240 \}/);
  const snap = k.snapshot()[0]!;
  assert.equal(snap.scheduler, 'rr (kernel nat)');
  assert.deepEqual(snap.backends.map((b) => [b.id, b.status, b.requests]), [['10.0.0.1:8080', 'up', 4], ['10.0.0.2:8080', 'down', 0]]);
  k.setBackendState('web', '10.0.0.2:8080', 'drain');
  await settle();
  assert.doesNotMatch(loads.at(-1)!, /jump s0_b1/, 'drain: no new connections');
  k.setBackendState('web', '10.0.0.2:8080', 'up');
  await settle();
  assert.match(loads.at(-1)!, /jump s0_b1/);
  await k.close();
  assert.equal(loads.at(-1), 'table ip palisade_lb {}\ndelete table ip palisade_lb\ntable netdev palisade_dr {}\ndelete table netdev palisade_dr\n');
});

test('a refused ruleset fails the apply (a reload keeps the previous config)', async () => {
  const { config } = parseClusterText(FILE.replace(/vrrp:[^]*?services:/, 'services:'), 'c.yaml', { env: {} });
  const { k } = harness({ refuse: true });
  await assert.rejects(k.apply(config, ['web']), /Could not process rule/);
  assert.deepEqual(k.snapshot(), []);
});
