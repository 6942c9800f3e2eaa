/**
 * Two VRRP instances talking over the udp transport on loopback (127.0.0.1 and
 * 127.0.0.2), with a VIP driver that records what a real one would do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { vrrpSchema, type VrrpInstanceConfig } from '../../config/ha-schema.ts';
import { VrrpInstance, type VipDriver } from './instance.ts';
import { paramsFromConfig } from './state.ts';
import { openUdpTransport } from './transport-udp.ts';

const log = pino({ level: 'silent' });

function config(advert: string): VrrpInstanceConfig {
  const cfg = vrrpSchema.parse({
    instances: { VI_1: { vrid: 51, interface: lo, advert_interval: advert, virtual_ipaddress: ['10.99.0.100/24'], members: { d1: 150, d2: 100 } } },
  });
  return cfg.instances.VI_1!;
}
const lo = 'lo';

class RecordingVips implements VipDriver {
  held = false;
  calls: string[] = [];
  add(): Promise<void> {
    this.held = true;
    this.calls.push('add');
    return Promise.resolve();
  }
  remove(): Promise<void> {
    this.held = false;
    this.calls.push('remove');
    return Promise.resolve();
  }
  garp(count: number): Promise<void> {
    this.calls.push(`garp ${count}`);
    return Promise.resolve();
  }
}

async function node(name: 'd1' | 'd2', address: string, port: number, peerPort: number, peerAddress: string, cfg: VrrpInstanceConfig) {
  const transport = await openUdpTransport({ address, port, peers: [{ address: peerAddress, port: peerPort }] });
  const vips = new RecordingVips();
  const transitions: string[] = [];
  const inst = new VrrpInstance('VI_1', cfg, paramsFromConfig('VI_1', cfg, name, address), transport, vips, log, {
    onTransition: (_n, t) => transitions.push(`${t.from}->${t.to}`),
  });
  return { inst, vips, transitions, transport };
}

/** A free UDP port on 127.0.0.1 and one on 127.0.0.2 (bound, noted, released). */
async function freePorts(): Promise<[number, number]> {
  const a = await openUdpTransport({ address: '127.0.0.1', port: 0, peers: [] });
  const b = await openUdpTransport({ address: '127.0.0.2', port: 0, peers: [] });
  const ports: [number, number] = [a.port, b.port];
  a.close();
  b.close();
  return ports;
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('the higher priority becomes MASTER and holds the VIP; a graceful stop hands over within the skew time', async (t) => {
  const cfg = config('100ms');
  // Ports: bind both, then tell each the other's.
  const [pa, pb] = await freePorts();
  const d1 = await node('d1', '127.0.0.1', pa, pb, '127.0.0.2', cfg);
  const d2 = await node('d2', '127.0.0.2', pb, pa, '127.0.0.1', cfg);
  t.after(async () => {
    await d1.inst.stop();
    await d2.inst.stop();
  });
  d2.inst.start();
  d1.inst.start();
  await waitFor(() => d1.inst.state.name === 'MASTER', 2_000, 'd1 master');
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(d2.inst.state.name, 'BACKUP', 'the lower priority stays backup while adverts arrive');
  assert.ok(d1.vips.held);
  assert.ok(!d2.vips.held);
  assert.ok(d1.vips.calls.some((c) => c.startsWith('garp')), 'gratuitous ARP on becoming master');
  assert.ok(d2.inst.status().received > 3);
  // Graceful stop: priority 0 → d2 takes over after Skew_Time (0.1 s × 156/256 ≈ 61 ms), well before 3 × advert.
  const t0 = performance.now();
  await d1.inst.stop();
  assert.ok(!d1.vips.held, 'a stopping master removes its VIP');
  await waitFor(() => d2.inst.state.name === 'MASTER', 1_000, 'd2 master');
  const took = performance.now() - t0;
  assert.ok(took < 250, `takeover after ${took.toFixed(0)} ms (skew ≈ 61 ms, master down would be ≈ 360 ms)`);
  assert.ok(d2.vips.held);
  assert.deepEqual(d2.transitions, ['INIT->BACKUP', 'BACKUP->MASTER']);
});

test('a crashed master (no adverts) is replaced after the master down interval', async () => {
  const cfg = config('100ms');
  const [pa, pb] = await freePorts();
  const d1 = await node('d1', '127.0.0.1', pa, pb, '127.0.0.2', cfg);
  const d2 = await node('d2', '127.0.0.2', pb, pa, '127.0.0.1', cfg);
  d1.inst.start();
  d2.inst.start();
  await waitFor(() => d1.inst.state.name === 'MASTER' && d2.inst.state.name === 'BACKUP', 2_000, 'roles');
  // Crash: the socket goes silent without a priority-0 advert.
  d1.transport.close();
  const t0 = performance.now();
  await waitFor(() => d2.inst.state.name === 'MASTER', 2_000, 'd2 master');
  const took = performance.now() - t0;
  assert.ok(took > 250 && took < 700, `takeover after ${took.toFixed(0)} ms (3 × 100 ms + skew 61 ms, minus the time since the last advert)`);
  await d2.inst.stop();
  await d1.inst.stop();
});

test('adverts with a bad checksum are counted by reason and do not hold off a takeover', async () => {
  const cfg = config('100ms');
  const b = await openUdpTransport({ address: '127.0.0.2', port: 0, peers: [] });
  const pb = b.port;
  b.close();
  const liar = await openUdpTransport({ address: '127.0.0.1', port: 0, peers: [{ address: '127.0.0.2', port: pb }] });
  const d2 = await node('d2', '127.0.0.2', pb, liar.port, '127.0.0.1', cfg);
  d2.inst.start();
  // A "master" whose adverts are broken: priority 200, corrupted checksum.
  const bad = Buffer.from([0x31, 51, 200, 1, 0x00, 0x0a, 0xde, 0xad, 10, 99, 0, 100]);
  const timer = setInterval(() => void liar.send(bad, '127.0.0.2').catch(() => undefined), 50);
  try {
    await waitFor(() => d2.inst.state.name === 'MASTER', 2_000, 'd2 master despite the bad adverts');
    assert.ok((d2.inst.status().dropped.BAD_CHECKSUM ?? 0) > 0);
  } finally {
    clearInterval(timer);
    liar.close();
    await d2.inst.stop();
  }
});
