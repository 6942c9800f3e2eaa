/**
 * The OS edges of VRRP, for real, in a private two-host lab (root):
 * the raw transport across namespaces (multicast and unicast), keepalived on the
 * wire in both directions, VIPs with iproute2, gratuitous ARP with arping.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { decodeVrrp } from '../../src/ha/vrrp/packet.ts';
import { loadAddon } from '../../src/ha/vrrp/raw.ts';
import { createLab, repoRoot, requireSystemHost, srcUrl } from './lab.ts';
import type { Lab, LabProcess } from './lab.ts';

const GROUP = '224.0.0.18';

interface Received {
  payload: string;
  src: string;
  dst: string;
  ttl: number;
  ifindex: number;
  at: number;
}

let lab: Lab;

before(async () => {
  // fail (never skip) with the reason when this host cannot run the suite
  requireSystemHost(['keepalived', 'arping', 'tcpdump']);
  loadAddon();
  lab = await createLab(undefined, { hosts: ['a', 'b'] });
});
// also on exit and signals: createLab registers those itself
after(() => lab?.cleanup());

/**
 * A raw-transport receiver in `host`: prints {ready} and then one JSON line per message.
 * `peers` switches it to unicast mode.
 */
function receiver(host: string, opts: { peers?: string[] } = {}): LabProcess {
  return lab.node(
    host,
    `
    import { openRawTransport } from ${JSON.stringify(srcUrl('src/ha/vrrp/transport.ts'))};
    const t = await openRawTransport({ interface: 'eth0', peers: ${JSON.stringify(opts.peers ?? [])} });
    t.onMessage((payload, meta) => console.log(JSON.stringify({ payload: payload.toString('hex'), ...meta, at: performance.timeOrigin + performance.now() })));
    t.onError((err) => console.log(JSON.stringify({ error: err.message })));
    console.log(JSON.stringify({ ready: true, source: t.source, targets: t.targets }));
    `,
  );
}

/** Sends `payloads` (hex) to every target of a raw transport in `host`, then reports what it heard itself. */
function sender(host: string, payloads: string[], opts: { peers?: string[] } = {}): LabProcess {
  return lab.node(
    host,
    `
    import { openRawTransport } from ${JSON.stringify(srcUrl('src/ha/vrrp/transport.ts'))};
    const t = await openRawTransport({ interface: 'eth0', peers: ${JSON.stringify(opts.peers ?? [])} });
    let heard = 0;
    t.onMessage(() => heard++);
    for (const hex of ${JSON.stringify(payloads)}) for (const dest of t.targets) await t.send(Buffer.from(hex, 'hex'), dest);
    console.log(JSON.stringify({ sent: true, source: t.source, targets: t.targets, at: performance.timeOrigin + performance.now() }));
    // our own multicast must not come back to us (IP_MULTICAST_LOOP off)
    setTimeout(() => { console.log(JSON.stringify({ heard })); t.close(); }, 300);
    `,
  );
}

async function ifindex(host: string): Promise<number> {
  const [link] = await lab.ipJson<{ ifindex: number }[]>(host, ['link', 'show', 'dev', 'eth0']);
  return link!.ifindex;
}

test('raw transport: a multicast advert from A reaches B with TTL 255, A as source and 224.0.0.18 as destination', async () => {
  const a = lab.host('a');
  const b = receiver('b');
  await b.waitForJson((m) => m.ready === true);
  const payload = '31339601006442420a630164';
  const s = sender('a', [payload]);
  const sent = await s.waitForJson<{ targets: string[]; source: string }>((m) => 'sent' in m);
  assert.deepEqual(sent.targets, [GROUP]);
  assert.equal(sent.source, a.address);
  const got = await b.waitForJson<Received>((m) => m.payload === payload, 5000);
  assert.equal(got.src, a.address);
  assert.equal(got.dst, GROUP);
  assert.equal(got.ttl, 255);
  assert.equal(got.ifindex, await ifindex('b'));
  assert.deepEqual(await s.waitForJson((m) => 'heard' in m), { heard: 0 });
  await b.stop();
});

/** A bare RawSocket in a lab script, joined to 224.0.0.18 or not, printing what it receives. */
function rawSocketScript(joinGroup: boolean): string {
  return `
    import { RawSocket } from ${JSON.stringify(srcUrl('src/ha/vrrp/raw.ts'))};
    const s = RawSocket.open({ protocol: 112, interface: 'eth0' });
    if (${joinGroup}) s.join('224.0.0.18');
    s.onPacket((p) => console.log(JSON.stringify({ payload: p.payload.toString('hex'), dst: p.dst })));
    console.log(JSON.stringify({ ready: true }));
  `;
}

test('raw socket: without joining 224.0.0.18 a socket receives no multicast advert', async () => {
  const joined = lab.node('b', rawSocketScript(true));
  const plain = lab.node('b', rawSocketScript(false));
  await joined.waitForJson((m) => m.ready === true);
  await plain.waitForJson((m) => m.ready === true);
  const payload = '31339601006442ad0a630164';
  await sender('a', [payload]).waitForJson((m) => 'heard' in m);
  await joined.waitForJson((m) => m.payload === payload, 5000);
  // the group is joined on B's eth0 (by the other socket): only IP_MULTICAST_ALL=0 keeps this one quiet
  assert.equal(plain.messages.filter((m) => (m as { payload?: string }).payload === payload).length, 0);
  await Promise.all([joined.stop(), plain.stop()]);
});

test('raw transport: unicast to a peer arrives with our address as destination, TTL 255', async () => {
  const a = lab.host('a');
  const bHost = lab.host('b');
  const b = receiver('b', { peers: [a.address] });
  await b.waitForJson((m) => m.ready === true);
  const payload = '31339601006400000a630164';
  const s = sender('a', [payload], { peers: [bHost.address] });
  assert.deepEqual((await s.waitForJson<{ targets: string[] }>((m) => 'sent' in m)).targets, [bHost.address]);
  const got = await b.waitForJson<Received>((m) => m.payload === payload, 5000);
  assert.deepEqual([got.src, got.dst, got.ttl], [a.address, bHost.address, 255]);
  await b.stop();
});

test('raw transport: round trip A → B → A, 200 adverts one after another (latency figures)', async (t) => {
  const a = lab.host('a');
  const echo = lab.node(
    'b',
    `
    import { openRawTransport } from ${JSON.stringify(srcUrl('src/ha/vrrp/transport.ts'))};
    const t = await openRawTransport({ interface: 'eth0', peers: [${JSON.stringify(a.address)}] });
    t.onMessage((payload, meta) => void t.send(payload, meta.src));
    console.log(JSON.stringify({ ready: true }));
    `,
  );
  await echo.waitForJson((m) => m.ready === true);
  const ping = lab.node(
    'a',
    `
    import { openRawTransport } from ${JSON.stringify(srcUrl('src/ha/vrrp/transport.ts'))};
    const t = await openRawTransport({ interface: 'eth0', peers: [${JSON.stringify(lab.host('b').address)}] });
    let waiting;
    t.onMessage((payload) => waiting?.(payload));
    const rtts = [];
    let lost = 0;
    for (let i = 0; i < 200; i++) {
      const payload = Buffer.alloc(20);
      payload.writeUInt32BE(i, 0);
      const t0 = process.hrtime.bigint();
      const ok = await new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), 1000);
        waiting = (p) => { if (p.readUInt32BE(0) === i) { clearTimeout(timer); resolve(true); } };
        void t.send(payload, t.targets[0]);
      });
      if (ok) rtts.push(Number(process.hrtime.bigint() - t0) / 1000); else lost++;
    }
    rtts.sort((x, y) => x - y);
    const q = (f) => rtts[Math.min(rtts.length - 1, Math.floor(f * rtts.length))];
    console.log(JSON.stringify({ done: true, lost, n: rtts.length, p50: q(0.5), p99: q(0.99), max: rtts.at(-1) }));
    t.close();
    `,
  );
  const r = await ping.waitForJson<{ done?: boolean; lost: number; n: number; p50: number; p99: number; max: number }>((m) => m.done === true, 60_000);
  t.diagnostic(`raw VRRP round trip across namespaces, µs: p50 ${r.p50.toFixed(0)}, p99 ${r.p99.toFixed(0)}, max ${r.max.toFixed(0)} (${r.n} adverts, ${r.lost} lost)`);
  assert.equal(r.lost, 0);
  assert.ok(r.p50 < 50_000, `median round trip ${r.p50} µs`);
  await echo.stop();
});

/** keepalived in `host` for VRID 51 holding `vip`; its own files in a temp dir; stopped (by PID) at the end. */
function keepalived(host: string, vip: string, opts: { priority: number; version: 2 | 3 }): { proc: LabProcess; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pal-keepalived-'));
  const conf = join(dir, 'keepalived.conf');
  writeFileSync(
    conf,
    `global_defs {
  router_id pal_${host}
  vrrp_version ${opts.version}
  vrrp_garp_master_delay 0
  vrrp_garp_master_repeat 1
}
vrrp_instance VI_51 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority ${opts.priority}
  advert_int 1
  virtual_ipaddress {
    ${vip}/24 dev eth0
  }
}
`,
  );
  const proc = lab.spawn(host, [
    'keepalived',
    '--dont-fork',
    '--log-console',
    '--log-detail',
    '--vrrp',
    '--use-file', conf,
    '--pid', join(dir, 'keepalived.pid'),
    '--vrrp_pid', join(dir, 'vrrp.pid'),
    '--checkers_pid', join(dir, 'checkers.pid'),
  ]);
  after(() => rmSync(dir, { recursive: true, force: true }));
  return { proc, dir };
}

test('keepalived interop: its VRRPv3 adverts reach the raw transport (TTL 255, from A, 0x31, VRID 51, checksum valid)', async (t) => {
  const a = lab.host('a');
  const vip = lab.address(100);
  const b = receiver('b');
  await b.waitForJson((m) => m.ready === true);
  const ka = keepalived('a', vip, { priority: 150, version: 3 });
  t.after(() => ka.proc.stop(5000));
  const started = Date.now();
  const got = await b.waitForJson<Received>((m) => m.src === a.address, 15_000);
  t.diagnostic(`first keepalived advert after ${Date.now() - started} ms (keepalived starts as BACKUP, master after ~3.4 s)`);
  assert.equal(got.ttl, 255);
  assert.equal(got.dst, GROUP);
  const payload = Buffer.from(got.payload, 'hex');
  assert.equal(payload[0], 0x31, 'VRRPv3 advertisement');
  assert.equal(payload[1], 51, 'VRID 51');
  const decoded = decodeVrrp(payload, { pseudo: { src: got.src, dst: got.dst }, ttl: got.ttl });
  assert.ok(decoded.ok, JSON.stringify(decoded));
  assert.equal(decoded.advert.priority, 150);
  assert.deepEqual(decoded.advert.addresses, [vip]);
  await b.stop();
});

test('keepalived interop: keepalived yields its VIP to a higher-priority advert sent by the raw transport', async (t) => {
  const a = lab.host('a');
  const vip = lab.address(101);
  const ka = keepalived('a', vip, { priority: 100, version: 3 });
  t.after(() => ka.proc.stop(5000));
  await ka.proc.waitForLine(/Entering MASTER STATE/, 15_000);
  const held = async () => (await lab.ipJson<{ addr_info: { local: string }[] }[]>('a', ['addr', 'show', 'dev', 'eth0']))[0]!.addr_info.some((x) => x.local === vip);
  assert.ok(await held(), 'keepalived holds the VIP as MASTER');

  // B claims VRID 51 with priority 200: one advert a second (bounded), as a master would
  const claimer = lab.node(
    'b',
    `
    import { openRawTransport } from ${JSON.stringify(srcUrl('src/ha/vrrp/transport.ts'))};
    import { encodeVrrp } from ${JSON.stringify(srcUrl('src/ha/vrrp/packet.ts'))};
    const t = await openRawTransport({ interface: 'eth0' });
    for (let i = 0; i < 10; i++) {
      for (const dest of t.targets) {
        await t.send(encodeVrrp({ version: 3, vrid: 51, priority: 200, intervalMs: 1000, addresses: [${JSON.stringify(vip)}] }, { src: t.source, dst: dest }), dest);
      }
      console.log(JSON.stringify({ sent: i }));
      await new Promise((r) => setTimeout(r, 1000));
    }
    t.close();
    `,
  );
  t.after(() => claimer.stop());
  const line = await ka.proc.waitForLine(/Master received advert from .* with higher priority 200/, 10_000);
  t.diagnostic(`keepalived: ${line.replace(/^.*?: \(/, '(')}`);
  assert.match(line, new RegExp(`from ${lab.host('b').address.replaceAll('.', '\\.')} `));
  await ka.proc.waitForLine(/\(VI_51\) Entering BACKUP STATE$/, 5000);
  const deadline = Date.now() + 5000;
  while ((await held()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await held(), false, 'keepalived removed the VIP from A');
  assert.equal(a.address, (await lab.ipJson<{ addr_info: { local: string }[] }[]>('a', ['addr', 'show', 'dev', 'eth0']))[0]!.addr_info[0]!.local);
});

test('VIPs: add, add again, remove, remove again, removeStale after a "killed master", /32 by default', async () => {
  const vip = `${lab.address(110)}/24`;
  const stale = lab.address(111);
  // a master killed with SIGKILL leaves its VIP behind
  await lab.exec('a', ['ip', 'addr', 'add', `${stale}/24`, 'dev', 'eth0']);
  const run = lab.node(
    'a',
    `
    import { addVip, removeVip, removeStale, listAddresses } from ${JSON.stringify(srcUrl('src/ha/vip.ts'))};
    const out = {};
    out.removedStale = await removeStale([${JSON.stringify(stale)}, ${JSON.stringify(lab.address(112))}], 'eth0');
    out.add1 = await addVip(${JSON.stringify(vip)}, 'eth0');
    out.add2 = await addVip(${JSON.stringify(vip)}, 'eth0');
    out.afterAdd = await listAddresses('eth0');
    out.remove1 = await removeVip(${JSON.stringify(vip)}, 'eth0');
    out.remove2 = await removeVip(${JSON.stringify(vip)}, 'eth0');
    out.add32 = await addVip(${JSON.stringify(lab.address(113))}, 'eth0');
    out.afterAll = await listAddresses('eth0');
    out.missingDev = await addVip('10.99.250.1', 'nosuch0').then(() => 'no error', (e) => e.message);
    console.log(JSON.stringify({ done: true, ...out }));
    `,
  );
  const r = await run.waitForJson<Record<string, unknown>>((m) => m.done === true, 15_000);
  assert.deepEqual(r.removedStale, [stale]);
  assert.deepEqual([r.add1, r.add2, r.remove1, r.remove2, r.add32], [true, false, true, false, true]);
  assert.deepEqual(r.afterAdd, [
    { address: lab.host('a').address, prefixlen: 24, secondary: false },
    { address: lab.address(110), prefixlen: 24, secondary: true },
  ]);
  assert.deepEqual(r.afterAll, [
    { address: lab.host('a').address, prefixlen: 24, secondary: false },
    { address: lab.address(113), prefixlen: 32, secondary: false },
  ]);
  assert.match(String(r.missingDev), /nosuch0/);
  // and from outside, with iproute2 itself
  const [link] = await lab.ipJson<{ addr_info: { family: string; local: string; prefixlen: number }[] }[]>('a', ['addr', 'show', 'dev', 'eth0']);
  const v4 = link!.addr_info.filter((x) => x.family === 'inet').map((x) => `${x.local}/${x.prefixlen}`);
  assert.deepEqual(v4, [lab.host('a').cidr, `${lab.address(113)}/32`]);
  await lab.exec('a', ['ip', 'addr', 'del', `${lab.address(113)}/32`, 'dev', 'eth0']);
});

test('gratuitous ARP: B moves the VIP to A\'s MAC at once; the frame is the one keepalived sends', async () => {
  const a = lab.host('a');
  const vip = lab.address(120);
  await lab.exec('a', ['ip', 'addr', 'add', `${vip}/24`, 'dev', 'eth0']);
  // B still believes the VIP is at the old master's MAC
  await lab.exec('b', ['ip', 'neigh', 'replace', vip, 'lladdr', '02:99:ff:00:00:99', 'dev', 'eth0', 'nud', 'stale']);
  const dump = lab.spawn('b', ['tcpdump', '-i', 'eth0', '-nn', '-e', '-l', '-xx', '-c', '1', 'arp', 'and', 'arp[14:4]', '=', hexIp(vip)]);
  await dump.waitForLine(/listening on eth0/, 10_000);
  const g = lab.node(
    'a',
    `
    import { sendGratuitousArp } from ${JSON.stringify(srcUrl('src/ha/garp.ts'))};
    const t0 = performance.now();
    await sendGratuitousArp(${JSON.stringify(vip)}, 'eth0', { count: 1 });
    const notThere = await sendGratuitousArp('10.99.250.2', 'eth0', { count: 1 }).then(() => 'no error', (e) => e.message);
    console.log(JSON.stringify({ done: true, ms: performance.now() - t0, notThere }));
    `,
  );
  const r = await g.waitForJson<{ done?: boolean; notThere: string }>((m) => m.done === true, 15_000);
  assert.match(r.notThere, /is 10\.99\.250\.2 configured on eth0/);
  await dump.exited;
  const [neigh] = await lab.ipJson<{ dst: string; lladdr: string }[]>('b', ['neigh', 'show', vip, 'dev', 'eth0']);
  assert.equal(neigh?.lladdr, a.mac);

  // the captured frame, byte for byte against keepalived's (vectors/vrrp/garp-U.hex) with our MAC and VIP
  const frame = hexDump(dump.output());
  const vector = hexDump(readFileSync(join(repoRoot, '..', 'shared', 'vectors', 'vrrp', 'garp-U.hex'), 'utf8'))
    .replaceAll('5e092ad5f1bf', mac(a.mac))
    .replaceAll('0a630064', hexIp(vip).slice(2));
  assert.equal(frame, vector);
  assert.match(dump.output(), new RegExp(`Request who-has ${vip.replaceAll('.', '\\.')} \\(ff:ff:ff:ff:ff:ff\\) tell ${vip.replaceAll('.', '\\.')}`));
  await lab.exec('a', ['ip', 'addr', 'del', `${vip}/24`, 'dev', 'eth0']);
});

function hexIp(ip: string): string {
  return `0x${ip
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join('')}`;
}

function mac(m: string): string {
  return m.replaceAll(':', '');
}

/** The bytes of tcpdump -xx text ("\t0x0000:  ffff ffff ..."), as one hex string. */
function hexDump(text: string): string {
  return text
    .split('\n')
    .filter((l) => /^\s+0x[0-9a-f]{4}:/.test(l))
    .map((l) => l.replace(/^\s+0x[0-9a-f]{4}:\s+/, '').slice(0, 40).replace(/\s/g, ''))
    .join('');
}

test('without spawning: netlink adds and removes the VIP, the packet socket sends the gratuitous ARP keepalived sends; B follows at once', async () => {
  const a = lab.host('a');
  const vip = lab.address(121);
  await lab.exec('b', ['ip', 'neigh', 'replace', vip, 'lladdr', '02:99:ff:00:00:98', 'dev', 'eth0', 'nud', 'stale']);
  const dump = lab.spawn('b', ['tcpdump', '-i', 'eth0', '-nn', '-e', '-l', '-xx', '-c', '1', 'arp', 'and', 'arp[14:4]', '=', hexIp(vip)]);
  await dump.waitForLine(/listening on eth0/, 10_000);
  const g = lab.node(
    'a',
    `
    import { netlinkAddress, interfaceMac, sendFrame } from ${JSON.stringify(srcUrl('src/ha/vrrp/raw.ts'))};
    import { encodeGratuitousArp } from ${JSON.stringify(srcUrl('src/ha/vrrp/packet.ts'))};
    const out = {};
    out.add1 = netlinkAddress('add', ${JSON.stringify(vip)}, 24, 'eth0');
    out.add2 = netlinkAddress('add', ${JSON.stringify(vip)}, 24, 'eth0');
    out.mac = interfaceMac('eth0');
    const t0 = performance.now();
    sendFrame('eth0', encodeGratuitousArp(out.mac, ${JSON.stringify(vip)}));
    out.garpMs = performance.now() - t0;
    out.noDev = (() => { try { netlinkAddress('add', '10.99.250.3', 32, 'nosuch0'); return 'no error'; } catch (e) { return e.message; } })();
    console.log(JSON.stringify({ done: true, ...out }));
    `,
  );
  const r = await g.waitForJson<Record<string, unknown>>((m) => m.done === true, 15_000);
  assert.deepEqual([r.add1, r.add2, r.mac], [true, false, a.mac]);
  assert.match(String(r.noDev), /nosuch0.*ENODEV.*no interface nosuch0 here/);
  const links = await lab.ipJson<{ addr_info: { local: string; prefixlen: number }[] }[]>('a', ['addr', 'show', 'dev', 'eth0']);
  assert.ok(links[0]!.addr_info.some((x) => x.local === vip && x.prefixlen === 24), 'the VIP is on eth0');
  await dump.exited;
  const [neigh] = await lab.ipJson<{ dst: string; lladdr: string }[]>('b', ['neigh', 'show', vip, 'dev', 'eth0']);
  assert.equal(neigh?.lladdr, a.mac, "B's neighbour entry moved to A");
  const vector = hexDump(readFileSync(join(repoRoot, '..', 'shared', 'vectors', 'vrrp', 'garp-U.hex'), 'utf8'))
    .replaceAll('5e092ad5f1bf', mac(a.mac))
    .replaceAll('0a630064', hexIp(vip).slice(2));
  assert.equal(hexDump(dump.output()), vector, 'the same frame as keepalived');
  const del = lab.node(
    'a',
    `
    import { netlinkAddress } from ${JSON.stringify(srcUrl('src/ha/vrrp/raw.ts'))};
    console.log(JSON.stringify({ done: true, del1: netlinkAddress('del', ${JSON.stringify(vip)}, 24, 'eth0'), del2: netlinkAddress('del', ${JSON.stringify(vip)}, 24, 'eth0') }));
    `,
  );
  const d = await del.waitForJson<Record<string, unknown>>((m) => m.done === true, 15_000);
  assert.deepEqual([d.del1, d.del2], [true, false]);
});
