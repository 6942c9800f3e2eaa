import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { parseClusterText } from '../config/load.ts';
import { ManualClock } from '../core/clock.ts';
import { silentLogger } from '../core/logger.ts';
import { Nft, NftError } from '../firewall/nft.ts';
import { CONNTRACK_SLOTS, type ConntrackAnswer } from '../proxy/kernel/conntrack.ts';
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

const COUNTED = `${FILE.replace(/vrrp:[^]*?services:/, 'services:')}  media:
    protocol: tcp
    mode: dr
    listen: 192.0.2.20:1755
    kernel: { interface: lo, macs: { 10.0.0.3: '02:00:00:00:00:03' } }
    backends: [10.0.0.3:1755]
`;

/** A conntrack dump that answers, for row i, i + 1 ESTABLISHED and 10 × (i + 1) TIME_WAIT; the rows of each call kept. */
function fakeConntrack() {
  const calls: number[][] = [];
  let fail: (Error & { code?: string }) | undefined;
  const dump = async (rows: Uint32Array): Promise<ConntrackAnswer> => {
    calls.push([...rows]);
    await settle();
    if (fail !== undefined) throw fail;
    const counts = new Uint32Array((rows.length / 5) * CONNTRACK_SLOTS);
    for (let i = 0; i < rows.length / 5; i++) {
      counts[i * CONNTRACK_SLOTS + 3] = i + 1; // TCP_CONNTRACK_ESTABLISHED
      counts[i * CONNTRACK_SLOTS + 7] = 10 * (i + 1); // TCP_CONNTRACK_TIME_WAIT
    }
    return { counts, entries: 100, matched: 33, malformed: 0, elapsedMs: 1, dumps: 1, filtered: true, interrupted: false };
  };
  return { dump, calls, failWith: (e: (Error & { code?: string }) | undefined) => (fail = e) };
}

/** A logger whose lines are kept (pino JSON objects). */
function recordingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as { level: number; msg: string }) });
  return { log, lines };
}

const columns = (k: KernelL4, service: string) => {
  const s = k.snapshot().find((x) => x.name === service)!;
  return { counts: s.backends.map((b) => [b.active, b.inactive]), unknown: s.kernel?.connectionsUnknown };
};

test('mode nat shows conntrack connection counts per backend; status calls within a second share one dump; mode dr shows them unknown', async () => {
  const { config } = parseClusterText(COUNTED, 'c.yaml', { env: {} });
  const { dump, calls } = fakeConntrack();
  const clock = new ManualClock(5_000);
  const k = new KernelL4({ log: silentLogger(), nft: new Nft(async () => ({ stdout: '', stderr: '' })), conntrack: dump, clock });
  await k.apply(config, ['web', 'media']);
  assert.deepEqual(columns(k, 'web'), { counts: [[null, null], [null, null]], unknown: 'conntrack not read yet' });

  await Promise.all([k.refreshConnections(), k.refreshConnections(), k.refreshConnections()]);
  assert.equal(calls.length, 1, 'concurrent callers share the dump in flight');
  // one row per backend of the nat service on its VIP:port: [protocol, vip, vport, server, sport]
  assert.deepEqual(calls[0], [6, 0xc000020a, 80, 0x0a000001, 8080, 6, 0xc000020a, 80, 0x0a000002, 8080]);
  assert.deepEqual(columns(k, 'web'), { counts: [[1, 10], [2, 20]], unknown: undefined });
  const media = columns(k, 'media');
  assert.deepEqual(media.counts, [[null, null]]);
  assert.match(media.unknown!, /mode dr keeps no connection state/);

  clock.advance(999);
  await k.refreshConnections();
  assert.equal(calls.length, 1, 'younger than a second: no new dump');
  clock.advance(1);
  await k.refreshConnections();
  assert.equal(calls.length, 2, 'a second old: dumped again');
  await k.close();
});

test('a mode nat service whose VIP is not held shows unknown counts and costs no dump', async () => {
  const { config } = parseClusterText(FILE, 'c.yaml', { env: {} });
  const { dump, calls } = fakeConntrack();
  const k = new KernelL4({ log: silentLogger(), nft: new Nft(async () => ({ stdout: '', stderr: '' })), conntrack: dump, clock: new ManualClock() });
  k.setVipHosts(['192.0.2.10']);
  await k.apply(config, ['web']);
  await k.refreshConnections();
  assert.equal(calls.length, 0);
  assert.deepEqual(columns(k, 'web'), { counts: [[null, null], [null, null]], unknown: 'the VIP is not held here' });
  await k.setVipsHeld(['192.0.2.10'], true);
  await k.refreshConnections();
  assert.equal(calls.length, 1);
  assert.deepEqual(columns(k, 'web').counts, [[1, 10], [2, 20]]);
  await k.close();
});

test('a failed dump makes the counts unknown with the reason, is logged once, and the counts come back when it works again', async () => {
  const { config } = parseClusterText(FILE.replace(/vrrp:[^]*?services:/, 'services:'), 'c.yaml', { env: {} });
  const { dump, calls, failWith } = fakeConntrack();
  const { log, lines } = recordingLogger();
  const clock = new ManualClock();
  const k = new KernelL4({ log, nft: new Nft(async () => ({ stdout: '', stderr: '' })), conntrack: dump, clock });
  await k.apply(config, ['web']);
  failWith(Object.assign(new Error('conntrack dump (ctnetlink IPCTNL_MSG_CT_GET, NLM_F_DUMP, AF_INET): EPERM (Operation not permitted)'), { code: 'EPERM' }));
  for (let i = 0; i < 3; i++) {
    await k.refreshConnections(); // never rejects
    clock.advance(1_000);
  }
  assert.equal(calls.length, 3);
  const { counts, unknown } = columns(k, 'web');
  assert.deepEqual(counts, [[null, null], [null, null]]);
  assert.match(unknown!, /EPERM \(Operation not permitted\) — reading conntrack needs CAP_NET_ADMIN/);
  const warnings = lines.filter((l) => /connection counts of mode nat services are unknown/.test(l.msg));
  assert.equal(warnings.length, 1, 'the same error is logged once');
  failWith(undefined);
  await k.refreshConnections();
  assert.deepEqual(columns(k, 'web'), { counts: [[1, 10], [2, 20]], unknown: undefined });
  assert.ok(lines.some((l) => /conntrack is readable again/.test(l.msg)));
  await k.close();
});
