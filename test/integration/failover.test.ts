/**
 * Two directors on loopback sharing a simulated VIP (127.0.0.100) by VRRP over UDP:
 * the master owns the listening socket, the backup takes over when it stops or its
 * VRRP process dies. No root needed (transport: udp).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Daemon } from '../../src/app/daemon.ts';
import { freePort, sleep, startBackend, waitFor } from '../helpers/http.ts';

const VIP = '127.0.0.100';

/** A command for /bin/sh, as a YAML argument array (the user's choice to use a shell). */
const sh = (text: string) => `[/bin/sh, -c, "${text}"]`;

/** One GET on a new connection; true when it got a 200. */
function probe(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, VIP);
    let data = '';
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.on('connect', () => s.write('GET / HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n'));
    s.on('data', (d) => (data += d.toString()));
    s.on('end', () => done(data.startsWith('HTTP/1.1 200')));
    s.on('error', () => done(false));
  });
}

interface ClusterOptions {
  /** Nodes with their VRRP priority; default d1 150 (127.0.0.1), d2 100 (127.0.0.2). */
  members?: Record<string, number>;
  /** More lines for the service (indented 4) and for the instance (indented 6). */
  service?: string;
  instance?: string;
}

async function cluster(t: import('node:test').TestContext, opts: ClusterOptions = {}) {
  const b = await startBackend(t, 'web');
  const port = await freePort();
  const udp = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'palisade-failover-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'cluster.yaml');
  const members = opts.members ?? { d1: 150, d2: 100 };
  const names = Object.keys(members);
  await writeFile(
    file,
    `runtime_dir: ${dir}
log: { level: info, access: false }
nodes:
${names.map((n, i) => `  ${n}: { address: 127.0.0.${i + 1} }`).join('\n')}
services:
  www:
    listen: ${VIP}:${port}
    backends: [${b.address}]
${opts.service ?? ''}
vrrp:
  instances:
    VI_1:
      vrid: 51
      interface: lo
      transport: udp
      udp_port: ${udp}
      advert_interval: 100ms
      virtual_ipaddress: [${VIP}/32]
      members: { ${names.map((n) => `${n}: ${members[n]}`).join(', ')} }
${opts.instance ?? ''}
`,
  );
  const start = async (node: string) => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
    const d = await Daemon.start({ file, node, log, controlSocket: join(dir, `${node}.sock`) });
    t.after(() => d.stop(500));
    return { d, lines };
  };
  return { port, start, dir, backend: b };
}

test('the master serves the VIP; a graceful stop hands it to the backup within a few hundred ms', async (t) => {
  const { port, start } = await cluster(t);
  const d1 = await start('d1');
  const d2 = await start('d2');
  await waitFor(async () => (await d1.d.status()).vrrp[0]?.state === 'MASTER', 3_000, 'd1 master');
  await waitFor(() => probe(port), 3_000, 'VIP served');
  assert.equal((await d2.d.status()).vrrp[0]?.state, 'BACKUP');
  for (let i = 0; i < 5; i++) assert.ok(await probe(port));
  assert.equal((await d1.d.status()).services[0]!.requests >= 5, true, 'd1 served them');
  assert.equal((await d2.d.status()).services[0]!.requests, 0, 'the backup served nothing');

  // Poll every 10 ms on new connections while d1 stops gracefully.
  const t0 = performance.now();
  let lastFail = t0;
  let firstOkAfter = 0;
  const poll = (async () => {
    while (performance.now() - t0 < 3_000) {
      const ok = await probe(port);
      const now = performance.now();
      if (!ok) lastFail = now;
      else if (lastFail > t0 && firstOkAfter === 0) firstOkAfter = now;
      if (firstOkAfter !== 0 && now - firstOkAfter > 300) break;
      await sleep(10);
    }
  })();
  await d1.d.stop(200);
  await poll;
  assert.equal((await d2.d.status()).vrrp[0]?.state, 'MASTER');
  const gap = (firstOkAfter || performance.now()) - t0;
  assert.ok(firstOkAfter !== 0, 'the backup served the VIP');
  assert.ok(gap < 1_500, `graceful handover gap ${gap.toFixed(0)} ms`);
  t.diagnostic(`graceful handover: clients cut off for ${(firstOkAfter - lastFail < 0 ? 0 : gap).toFixed(0)} ms from the stop (advert 100 ms)`);
  assert.ok(d2.lines.some((l) => l.event === 'vrrp_transition' && l.to === 'MASTER'));
  // The same as a Palisade event, for alerting and the dashboard.
  const ev = d2.d.events.recent().filter((e) => e.kind === 'vrrp_transition').map((e) => [e.subject, e.state, e.node, e.severity]);
  assert.deepEqual(ev.slice(-1), [['vrrp/VI_1', 'MASTER', 'd2', 'info']]);
});

test('when the master crashes (its VRRP process killed), the backup takes over after the master down interval', async (t) => {
  const { port, start } = await cluster(t);
  const d1 = await start('d1');
  const d2 = await start('d2');
  await waitFor(async () => (await d1.d.status()).vrrp[0]?.state === 'MASTER' && (await d2.d.status()).vrrp[0]?.state === 'BACKUP', 3_000, 'roles');
  const pid = d1.d.vrrpPid();
  assert.ok(pid, 'the VRRP child runs in its own process');
  const t0 = performance.now();
  process.kill(pid, 'SIGKILL');
  await waitFor(async () => (await d2.d.status()).vrrp[0]?.state === 'MASTER', 3_000, 'd2 master');
  const took = performance.now() - t0;
  assert.ok(took < 1_500, `crash takeover after ${took.toFixed(0)} ms (3 x 100 ms + skew)`);
  t.diagnostic(`crash: backup MASTER ${took.toFixed(0)} ms after the master's VRRP process was killed (advert 100 ms)`);
  await waitFor(() => probe(port), 2_000, 'VIP served by d2');
});

test('trackers: a failing script with weight 0 puts the master in FAULT and releases the VIP; the proxy tracker does the same when no backend is up', async (t) => {
  const flag = join(tmpdir(), `palisade-track-${process.pid}-${Date.now()}`);
  await writeFile(flag, '');
  t.after(() => rm(flag, { force: true }));
  const { port, start, backend: b } = await cluster(t, {
    members: { d1: 150 },
    service: '    health: { type: tcp, interval: 100ms, fall: 1, rise: 1 }',
    instance: `      track:\n        - { type: script, command: [/usr/bin/test, -e, ${flag}], interval: 100ms, weight: 0 }\n        - { type: proxy }`,
  });
  const { d } = await start('d1');
  const state = async () => (await d.status()).vrrp[0]?.state;
  await waitFor(async () => (await state()) === 'MASTER', 3_000, 'master');
  await waitFor(() => probe(port), 2_000, 'serving');
  await rm(flag);
  await waitFor(async () => (await state()) === 'FAULT', 3_000, 'FAULT after the script fails');
  await waitFor(async () => !(await probe(port)), 2_000, 'VIP released');
  assert.deepEqual((await d.status()).vrrp[0]?.faults, ['track:script /usr/bin/test']);
  await writeFile(flag, '');
  await waitFor(async () => (await state()) === 'MASTER', 3_000, 'master again');
  // Now the proxy tracker: its only backend dies, health marks it down, the proxy cannot serve.
  await b.close();
  await waitFor(async () => (await state()) === 'FAULT', 5_000, 'FAULT when the proxy has no backend up');
  assert.deepEqual((await d.status()).vrrp[0]?.faults, ['track:proxy']);
});

test('resources follow the VIP: started in order on MASTER, stopped in reverse on leaving; a failing status puts the instance in FAULT', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-res-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const log = join(dir, 'order.log');
  const flag = join(dir, 'service-running');
  const { port, start } = await cluster(t, {
    members: { d1: 150, d2: 100 },
    instance: `      resources:
        - { name: mount, start: ${sh(`echo start-mount >> ${log}`)}, stop: ${sh(`echo stop-mount >> ${log}`)} }
        - { name: service, start: ${sh(`echo start-service >> ${log}; touch ${flag}`)}, stop: ${sh(`echo stop-service >> ${log}`)}, status: [/usr/bin/test, -e, ${flag}], interval: 100ms }`,
  });
  const { readFile } = await import('node:fs/promises');
  const lines = async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter((l) => l !== '');
  const d1 = await start('d1');
  const d2 = await start('d2');
  await waitFor(async () => (await lines()).length === 2, 5_000, 'resources started');
  assert.deepEqual(await lines(), ['start-mount', 'start-service'], 'in order, on the master only');
  await waitFor(() => probe(port), 2_000, 'serving');
  // The service dies: its status fails, d1 goes FAULT and stops its resources in reverse; d2 takes over and starts them.
  await rm(flag);
  await waitFor(async () => (await d1.d.status()).vrrp[0]?.state === 'FAULT', 3_000, 'd1 FAULT');
  await waitFor(async () => (await lines()).length >= 6, 5_000, 'handed over');
  assert.deepEqual((await lines()).slice(2, 6), ['stop-service', 'stop-mount', 'start-mount', 'start-service']);
  assert.equal((await d2.d.status()).vrrp[0]?.state, 'MASTER');
  assert.deepEqual((await d1.d.status()).vrrp[0]?.faults, ['resource:service']);
  await d2.d.stop(200);
  await waitFor(async () => (await lines()).length >= 8, 5_000, 'd2 stopped its resources');
  assert.deepEqual((await lines()).slice(6, 8), ['stop-service', 'stop-mount']);
});

async function states(d: Daemon): Promise<Record<string, string>> {
  return Object.fromEntries((await d.status()).vrrp.map((i) => [i.instance, i.state]));
}

test('sync group: when one instance of the group fails on the master, the others follow it into FAULT and the backup takes them all', async (t) => {
  const b1 = await startBackend(t, 'web-d1');
  const b2 = await startBackend(t, 'web-d2');
  const port = await freePort();
  const udp1 = await freePort();
  const udp2 = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'palisade-sync-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'cluster.yaml');
  const health = '{ type: tcp, interval: 100ms, fall: 1, rise: 1 }';
  await writeFile(
    file,
    `runtime_dir: ${dir}
log: { level: info, access: false }
nodes:
  d1: { address: 127.0.0.1 }
  d2: { address: 127.0.0.2 }
services:
  www-d1: { listen: ${VIP}:${port}, nodes: [d1], backends: [${b1.address}], health: ${health} }
  www-d2: { listen: ${VIP}:${port}, nodes: [d2], backends: [${b2.address}], health: ${health} }
vrrp:
  instances:
    VI_1: { vrid: 51, interface: lo, transport: udp, udp_port: ${udp1}, advert_interval: 100ms, virtual_ipaddress: [${VIP}/32], members: { d1: 150, d2: 100 } }
    VI_2: { vrid: 52, interface: lo, transport: udp, udp_port: ${udp2}, advert_interval: 100ms, virtual_ipaddress: [127.0.0.101/32], members: { d1: 150, d2: 100 }, track: [{ type: proxy }] }
  sync_groups:
    G1: [VI_1, VI_2]
`,
  );
  const start = async (node: string) => {
    const log = pino({ level: 'silent' });
    const d = await Daemon.start({ file, node, log, controlSocket: join(dir, `${node}.sock`) });
    t.after(() => d.stop(500));
    return d;
  };
  const d1 = await start('d1');
  const d2 = await start('d2');
  await waitFor(async () => JSON.stringify(await states(d1)) === '{"VI_1":"MASTER","VI_2":"MASTER"}', 5_000, 'd1 master of both');
  await waitFor(() => probe(port), 2_000, 'serving');
  // d1's only backend dies: its proxy tracker fails VI_2 — and VI_1 follows, although nothing tracks it.
  await b1.close();
  await waitFor(async () => JSON.stringify(await states(d1)) === '{"VI_1":"FAULT","VI_2":"FAULT"}', 5_000, 'd1 FAULT for both');
  assert.deepEqual((await d1.status()).vrrp.map((i) => [i.instance, i.faults]), [
    ['VI_1', ['sync:G1']],
    ['VI_2', ['track:proxy']],
  ]);
  await waitFor(async () => JSON.stringify(await states(d2)) === '{"VI_1":"MASTER","VI_2":"MASTER"}', 5_000, 'd2 master of both');
  await waitFor(() => probe(port), 2_000, 'served by d2');
  assert.ok(b2.seen.length > 0, "d2's backend answered");
});

function transitions(lines: Record<string, unknown>[]): number {
  return lines.filter((l) => l.event === 'vrrp_transition').length;
}

test('reload: unchanged VRRP instances keep running (no transition), a priority change applies in place (the backup preempts), other changes restart the instance', async (t) => {
  const { start, dir } = await cluster(t);
  const file = join(dir, 'cluster.yaml');
  const { readFile } = await import('node:fs/promises');
  const original = await readFile(file, 'utf8');
  const d1 = await start('d1');
  const d2 = await start('d2');
  await waitFor(async () => (await d1.d.status()).vrrp[0]?.state === 'MASTER' && (await d2.d.status()).vrrp[0]?.state === 'BACKUP', 3_000, 'roles');
  const before = transitions(d1.lines);

  // Nothing in vrrp: changed: the instance keeps its state.
  await writeFile(file, original.replace('log: { level: info, access: false }', 'log: { level: info, access: true }'));
  const r1 = await d1.d.reload();
  assert.equal(r1.ok, true, r1.errors.join('; '));
  await sleep(500);
  assert.equal(transitions(d1.lines), before, 'no VRRP transition on a reload that does not touch it');
  assert.equal((await d1.d.status()).vrrp[0]?.state, 'MASTER');

  // d2's priority goes above d1's: applied in place, d2 preempts.
  await writeFile(file, original.replace('members: { d1: 150, d2: 100 }', 'members: { d1: 150, d2: 200 }'));
  const r2 = await d2.d.reload();
  assert.equal(r2.ok, true, r2.errors.join('; '));
  assert.match(r2.summary ?? '', /vrrp: VI_1 priority changed/);
  await waitFor(async () => (await d2.d.status()).vrrp[0]?.state === 'MASTER', 3_000, 'd2 preempts');
  assert.equal((await d2.d.status()).vrrp[0]?.effectivePriority, 200);
  await waitFor(async () => (await d1.d.status()).vrrp[0]?.state === 'BACKUP', 3_000, 'd1 backup');

  // Another change (the advert interval): d1's instance restarts with it.
  await writeFile(file, original.replace('members: { d1: 150, d2: 100 }', 'members: { d1: 150, d2: 200 }').replace('advert_interval: 100ms', 'advert_interval: 200ms'));
  const r3 = await d1.d.reload();
  assert.equal(r3.ok, true, r3.errors.join('; '));
  assert.match(r3.summary ?? '', /vrrp: VI_1 restarted/);
  await waitFor(async () => (await d1.d.status()).vrrp[0]?.state === 'BACKUP', 3_000, 'd1 back as backup');
});
