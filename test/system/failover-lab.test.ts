/**
 * The director pair as the classic cluster runs it, in a private lab: a client, two
 * directors (d1, d2) sharing a VIP by VRRP on the wire (raw IP protocol 112), and two
 * web servers. A client in its own namespace polls the VIP every 10 ms on new
 * connections while keep-alive loaders put load through it; the test stops or
 * crashes the master and reports the gap clients saw and the requests that failed.
 *
 * The same measurements are made with keepalived on the same two directors (an HTTP
 * responder on each standing in for nginx) so the figures sit side by side.
 *
 * Needs root, keepalived, arping and the raw-socket addon.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TestContext } from 'node:test';
import { loadAddon } from '../../src/ha/vrrp/raw.ts';
import { createLab, repoRoot, requireSystemHost } from './lab.ts';
import type { Lab, LabProcess } from './lab.ts';

let lab: Lab;
const MAIN = join(repoRoot, 'src', 'cli', 'main.ts');
const DIRECTORS = ['d1', 'd2'] as const;
type Director = (typeof DIRECTORS)[number];

before(async () => {
  requireSystemHost(['keepalived', 'arping']);
  loadAddon();
  lab = await createLab(undefined, { hosts: ['client', 'd1', 'd2', 'web1', 'web2'], net: 8 });
});
after(() => lab?.cleanup());

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A tiny HTTP server on 0.0.0.0:`port` in `host` answering 200 with its host name. */
function webServer(host: string, port: number): LabProcess {
  return lab.node(
    host,
    `import { createServer } from 'node:http';
const body = ${JSON.stringify(host)} + '\\n';
const s = createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }); res.end(body); });
s.keepAliveTimeout = 60_000;
s.listen(${port}, '0.0.0.0', () => console.log(JSON.stringify({ listening: ${port} })));
process.on('SIGTERM', () => process.exit(0));`,
  );
}

const webs = new Map<string, LabProcess>();

/** web1 and web2 on :8080, started once (again if one was stopped). */
async function startWebServers(): Promise<void> {
  for (const w of ['web1', 'web2']) {
    const running = webs.get(w);
    if (running !== undefined && !running.child.killed && running.child.exitCode === null && running.child.signalCode === null) continue;
    const p = webServer(w, 8080);
    webs.set(w, p);
    after(() => p.stop(2000));
    await p.waitForJson((m) => m.listening === 8080);
  }
}

interface ClientReport {
  /** Polls on new connections (every 10 ms) and their outcome. */
  polls: number;
  pollsFailed: number;
  /** Longest time between two successful polls, ms: what a user saw. */
  gapMs: number;
  /** Requests on the keep-alive loaders, and how many failed (timeout, reset, non-200). */
  requests: number;
  requestsFailed: number;
  /** Which web server answered, counts. */
  servedBy: Record<string, number>;
  /** Why polls failed: error code, `timeout`, `closed` or the status line. */
  why: Record<string, number>;
}

/**
 * The client: every 10 ms a GET on a new connection to VIP:80 (300 ms deadline), and
 * `loaders` keep-alive connections sending GETs one after another (500 ms deadline,
 * reconnect on failure). Runs until SIGTERM, then prints its report as one JSON line.
 * At most 30 s in any case.
 */
function client(vip: string, loaders: number): LabProcess {
  return lab.node(
    'client',
    `import { connect } from 'node:net';
const VIP = ${JSON.stringify(vip)}, PORT = 80, LOADERS = ${loaders};
const okAt = []; let polls = 0, pollsFailed = 0, requests = 0, requestsFailed = 0, stopping = false;
const servedBy = {}; const why = {};
const note = (k) => { why[k] = (why[k] ?? 0) + 1; };
const REQ = 'GET / HTTP/1.1\\r\\nHost: vip\\r\\n\\r\\n';
function poll() {
  const start = performance.now(); polls++;
  const s = connect(PORT, VIP); let buf = ''; let done = false;
  const finish = (ok, reason) => { if (done) return; done = true; clearTimeout(t); s.destroy(); if (ok) okAt.push(start); else { pollsFailed++; note(reason); } };
  const t = setTimeout(() => finish(false, 'timeout'), 300);
  s.on('connect', () => s.write('GET / HTTP/1.1\\r\\nHost: vip\\r\\nConnection: close\\r\\n\\r\\n'));
  s.setEncoding('utf8');
  s.on('data', (d) => { buf += d; if (/\\r\\n\\r\\n[a-z0-9]+\\n/.test(buf)) { const who = buf.slice(buf.indexOf('\\r\\n\\r\\n') + 4).trim(); servedBy[who] = (servedBy[who] ?? 0) + 1; finish(buf.startsWith('HTTP/1.1 200'), buf.slice(0, 12)); } });
  s.on('error', (e) => finish(false, e.code));
  s.on('close', () => finish(false, 'closed'));
}
function loader() {
  if (stopping) return;
  const s = connect(PORT, VIP); let buf = ''; let t; let over = false; let inFlight = false;
  const fail = (counted) => { if (over) return; over = true; clearTimeout(t); s.destroy(); if (counted) requestsFailed++; if (!stopping) setTimeout(loader, 20); };
  const send = () => { if (stopping) { over = true; s.destroy(); return; } requests++; inFlight = true; buf = ''; t = setTimeout(() => fail(true), 500); s.write(REQ); };
  s.on('connect', send);
  s.setEncoding('utf8');
  s.on('data', (d) => { buf += d; if (/\\r\\n\\r\\n[a-z0-9]+\\n/.test(buf)) { clearTimeout(t); inFlight = false; if (!buf.startsWith('HTTP/1.1 200')) { fail(true); return; } send(); } });
  s.on('error', () => fail(true));
  s.on('close', () => fail(inFlight));
}
const timer = setInterval(poll, 10);
for (let i = 0; i < LOADERS; i++) loader();
const stop = () => {
  stopping = true; clearInterval(timer);
  setTimeout(() => {
    let gap = 0; for (let i = 1; i < okAt.length; i++) gap = Math.max(gap, okAt[i] - okAt[i - 1]);
    console.log(JSON.stringify({ report: { polls, pollsFailed, gapMs: Math.round(gap), requests, requestsFailed, servedBy, why } }));
    process.exit(0);
  }, 600);
};
process.on('SIGTERM', stop);
setTimeout(stop, 30_000);
console.log(JSON.stringify({ started: true }));`,
  );
}

async function finish(c: LabProcess): Promise<ClientReport> {
  await c.stop(5_000);
  const m = c.messages.find((x) => typeof x === 'object' && x !== null && 'report' in x) as { report: ClientReport } | undefined;
  assert.ok(m, `the client printed its report; output:\n${c.output()}`);
  return m.report;
}

async function holds(host: string, vip: string): Promise<boolean> {
  const links = await lab.ipJson<{ addr_info: { local: string }[] }[]>(host, ['addr', 'show', 'dev', 'eth0']);
  return links[0]!.addr_info.some((a) => a.local === vip);
}

async function waitHolds(host: string, vip: string, ms: number): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    if (await holds(host, vip)) return performance.now() - t0;
    await sleep(20);
  }
  assert.fail(`${host} never took ${vip} within ${ms} ms`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the client has had `ms` of successful polls after a change. */
async function settle(ms = 1_500): Promise<void> {
  await sleep(ms);
}

// ---------------------------------------------------------------------------
// Palisade directors

const palisadeFiles = new Map<string, string>();

interface PalisadeOptions {
  advert: string;
  /** Extra YAML lines for the instance (indented 6). */
  instance?: string;
  /** Per-node services (d1 → web1 only, d2 → web2 only) so a proxy tracker can fail on one director alone. */
  splitServices?: boolean;
}

function palisadeFile(vip: string, o: PalisadeOptions, node: Director): string {
  const key = `${vip}|${o.advert}|${o.instance ?? ''}|${o.splitServices === true}|${node}`;
  const known = palisadeFiles.get(key);
  if (known !== undefined) return known;
  const dir = tempDir(`pal-lab-${node}-`);
  const file = join(dir, 'cluster.yaml');
  const health = `    health: { type: http, path: /, interval: 200ms, timeout: 150ms, rise: 1, fall: 2 }`;
  const services = o.splitServices
    ? `  www1:
    listen: ${vip}:80
    nodes: [d1]
    backends: [${lab.host('web1').address}:8080]
${health}
  www2:
    listen: ${vip}:80
    nodes: [d2]
    backends: [${lab.host('web2').address}:8080]
${health}`
    : `  www:
    listen: ${vip}:80
    backends: [${lab.host('web1').address}:8080, ${lab.host('web2').address}:8080]
    timeouts: { connect: 200ms }
${health}`;
  writeFileSync(
    file,
    `runtime_dir: ${dir}
log: { level: info, format: json, access: false }
nodes:
  d1: { address: ${lab.host('d1').address} }
  d2: { address: ${lab.host('d2').address} }
services:
${services}
vrrp:
  instances:
    VI_1:
      vrid: 61
      interface: eth0
      advert_interval: ${o.advert}
      virtual_ipaddress: [${vip}/24]
      members: { d1: 150, d2: 100 }
${o.instance ?? ''}
`,
  );
  palisadeFiles.set(key, file);
  return file;
}

function palisade(node: Director, vip: string, o: PalisadeOptions): LabProcess {
  const p = lab.spawn(node, [process.execPath, MAIN, 'run', '-c', palisadeFile(vip, o, node), '--node', node]);
  after(() => p.stop(5000));
  return p;
}

function transitions(p: LabProcess): string[] {
  return p.messages
    .filter((m): m is { event: string; from: string; to: string } => typeof m === 'object' && m !== null && (m as { event?: string }).event === 'vrrp_transition')
    .map((m) => `${m.from}->${m.to}`);
}

// ---------------------------------------------------------------------------
// keepalived directors (the baseline), each with an HTTP responder on :80

function keepalived(node: Director, vip: string, priority: number, advert: string): LabProcess {
  const dir = tempDir(`pal-lab-ka-${node}-`);
  const conf = join(dir, 'keepalived.conf');
  writeFileSync(
    conf,
    `global_defs {
  router_id pal_${node}
  vrrp_version 3
  vrrp_garp_master_delay 1
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 62
  priority ${priority}
  advert_int ${advert}
  virtual_ipaddress {
    ${vip}/24 dev eth0
  }
}
`,
  );
  const p = lab.spawn(node, ['keepalived', '--dont-fork', '--log-console', '--vrrp', '--use-file', conf, '--pid', join(dir, 'k.pid'), '--vrrp_pid', join(dir, 'v.pid'), '--checkers_pid', join(dir, 'c.pid')]);
  after(() => p.stop(5000));
  return p;
}

// ---------------------------------------------------------------------------

const figures: string[] = [];
after(() => {
  if (figures.length > 0) console.log(`# director failover figures (client polling the VIP every 10 ms on new connections):\n${figures.map((f) => `#   ${f}`).join('\n')}`);
});

function report(t: TestContext, what: string, r: ClientReport): void {
  const line = `${what}: gap ${r.gapMs} ms, ${r.pollsFailed}/${r.polls} polls failed ${JSON.stringify(r.why)}, ${r.requestsFailed}/${r.requests} keep-alive requests failed`;
  figures.push(line);
  t.diagnostic(line);
}

async function killNamespace(node: Director): Promise<void> {
  await lab.exec(node, ['ip', 'link', 'set', 'eth0', 'down']);
  for (const pid of lab.pidsIn(node)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

async function linkUp(node: Director): Promise<void> {
  await lab.exec(node, ['ip', 'link', 'set', 'eth0', 'up']);
}

for (const advert of ['1', '0.1'] as const) {
  test(`keepalived baseline, advert ${advert} s: graceful stop and crash of the master, seen by the client`, async (t) => {
    const vip = lab.address(advert === '1' ? 110 : 111);
    const web = DIRECTORS.map((d) => webServer(d, 80));
    for (const w of web) await w.waitForJson((m) => m.listening === 80);
    const k1 = keepalived('d1', vip, 150, advert);
    const k2 = keepalived('d2', vip, 100, advert);
    await waitHolds('d1', vip, 15_000);
    await k2.waitForLine(/Entering BACKUP STATE/, 10_000);
    let c = client(vip, 4);
    await c.waitForJson((m) => m.started === true);
    await settle(1_000);
    await k1.stop(5_000);
    await waitHolds('d2', vip, 10_000);
    await settle();
    const graceful = await finish(c);
    report(t, `keepalived graceful, advert ${advert} s`, graceful);
    assert.ok((graceful.servedBy.d2 ?? 0) > 0, 'd2 served after the stop');

    // d1 back (it preempts), then crash it
    const k1b = keepalived('d1', vip, 150, advert);
    await waitHolds('d1', vip, 15_000);
    await k1b.waitForLine(/Entering MASTER STATE/, 10_000);
    await settle(1_000);
    c = client(vip, 4);
    await c.waitForJson((m) => m.started === true);
    await settle(1_000);
    await killNamespace('d1');
    await waitHolds('d2', vip, 10_000);
    await settle();
    const crashed = await finish(c);
    report(t, `keepalived crash, advert ${advert} s`, crashed);
    await linkUp('d1');
    await k2.stop(5_000);
    for (const w of web) await w.stop(2_000);
    await lab.exec('d1', ['ip', 'addr', 'del', `${vip}/24`, 'dev', 'eth0'], { allowFail: true });
  });
}

for (const advert of ['1s', '100ms'] as const) {
  test(`two Palisade directors, advert ${advert}: graceful stop and crash of the master; the client's neighbour entry follows (GARP); d1 preempts back`, async (t) => {
    await startWebServers();
    const vip = lab.address(advert === '1s' ? 120 : 121);
    const o = { advert };
    let p1 = palisade('d1', vip, o);
    const p2 = palisade('d2', vip, o);
    await waitHolds('d1', vip, 15_000);
    await p2.waitForLine(/INIT -> BACKUP/, 10_000);
    let c = client(vip, 4);
    await c.waitForJson((m) => m.started === true);
    await settle(1_000);
    await p1.stop(5_000);
    await waitHolds('d2', vip, 10_000);
    await settle();
    const graceful = await finish(c);
    report(t, `Palisade graceful, advert ${advert}`, graceful);
    // Connections open to d1 die with it (no connection sync, as with keepalived + nginx):
    // their in-flight requests are the keep-alive failures; new connections see only the gap.
    assert.ok(graceful.gapMs < (advert === '1s' ? 2_000 : 1_000), `graceful gap ${graceful.gapMs} ms`);
    assert.ok(graceful.servedBy.web1! > 0 && graceful.servedBy.web2! > 0, 'both web servers served through the VIP');

    // d1 comes back with the higher priority and preempts
    p1 = palisade('d1', vip, o);
    const back = await waitHolds('d1', vip, 15_000);
    await p2.waitForLine(/MASTER -> BACKUP/, 10_000);
    t.diagnostic(`d1 (150) took the VIP back from d2 (100) ${back.toFixed(0)} ms after it started (preemption)`);
    assert.equal(await holds('d2', vip), false, 'd2 released the VIP');
    await settle(1_000);

    // crash d1: link down, every process killed
    c = client(vip, 4);
    await c.waitForJson((m) => m.started === true);
    await settle(1_000);
    const neighBefore = await neighbour(vip);
    assert.equal(neighBefore, lab.host('d1').mac, 'the client reaches the VIP at d1');
    await killNamespace('d1');
    await waitHolds('d2', vip, 10_000);
    await settle();
    const crashed = await finish(c);
    report(t, `Palisade crash, advert ${advert}`, crashed);
    assert.equal(await neighbour(vip), lab.host('d2').mac, "the client's neighbour entry for the VIP points at d2 (gratuitous ARP), without waiting for ARP expiry");
    assert.ok((crashed.servedBy.web1 ?? 0) + (crashed.servedBy.web2 ?? 0) > 0);
    if (advert === '100ms') assert.ok(crashed.gapMs < 1_000, `crash gap at advert 100 ms: ${crashed.gapMs} ms`);
    else assert.ok(crashed.gapMs < 5_000, `crash gap at advert 1 s: ${crashed.gapMs} ms`);
    assert.deepEqual(transitions(p2).slice(-1), ['BACKUP->MASTER']);

    // d1 returns: the VIP its killed run left behind is removed at start, and it preempts again
    assert.equal(await holds('d1', vip), true, 'the killed master left its VIP behind');
    await linkUp('d1');
    p1 = palisade('d1', vip, o);
    await p1.waitForLine(/INIT -> BACKUP|BACKUP -> MASTER/, 10_000);
    await waitHolds('d1', vip, 15_000);
    await p2.waitForLine(/MASTER -> BACKUP/, 10_000);
    await p1.stop(5_000);
    await p2.stop(5_000);
  });
}

async function neighbour(ip: string): Promise<string | undefined> {
  const n = await lab.ipJson<{ dst: string; lladdr?: string }[]>('client', ['neigh', 'show', ip, 'dev', 'eth0']);
  return n[0]?.lladdr;
}

test('no false failover: the master proxy saturated for 30 s at advert 100 ms; the backup never takes over', async (t) => {
  await startWebServers();
  const vip = lab.address(130);
  const o = { advert: '100ms' };
  const p1 = palisade('d1', vip, o);
  const p2 = palisade('d2', vip, o);
  await waitHolds('d1', vip, 15_000);
  await p2.waitForLine(/INIT -> BACKUP/, 10_000);
  const initial = { d1: transitions(p1).length, d2: transitions(p2).length };
  const load = lab.node(
    'client',
    `import { connect } from 'node:net';
const REQ = 'GET / HTTP/1.1\\r\\nHost: vip\\r\\n\\r\\n'.repeat(8);
let requests = 0; const end = performance.now() + 30_000;
for (let i = 0; i < 64; i++) {
  const s = connect(80, ${JSON.stringify(vip)}); let n = 0;
  s.on('connect', () => s.write(REQ));
  s.setEncoding('utf8');
  s.on('data', (d) => { n += d.split('HTTP/1.1 200').length - 1; while (n >= 8) { n -= 8; requests += 8; if (performance.now() < end) s.write(REQ); else { s.end(); break; } } });
  s.on('error', () => {});
}
setTimeout(() => { console.log(JSON.stringify({ requests })); process.exit(0); }, 31_000);`,
  );
  after(() => load.stop(2000));
  const r = await load.waitForJson<{ requests: number }>((m) => typeof m.requests === 'number', 40_000);
  t.diagnostic(`${r.requests} requests in 30 s through d1 (${Math.round(r.requests / 30)} req/s); VRRP transitions during the load: d1 ${transitions(p1).length - initial.d1}, d2 ${transitions(p2).length - initial.d2}`);
  figures.push(`no false failover: ${r.requests} requests in 30 s through the master at advert 100 ms, state changes: ${transitions(p1).length - initial.d1 + transitions(p2).length - initial.d2}`);
  assert.ok(r.requests > 1000, 'the load really ran');
  assert.equal(transitions(p1).length, initial.d1, 'd1 never changed state');
  assert.equal(transitions(p2).length, initial.d2, 'd2 never changed state');
  assert.equal(await holds('d2', vip), false);
  await p1.stop(5_000);
  await p2.stop(5_000);
});

test("proxy tracker in the lab: d1's only backend dies → d1 FAULT, d2 takes the VIP and serves; the backend returns → d1 preempts back", async (t) => {
  await startWebServers();
  const vip = lab.address(140);
  const o = { advert: '100ms', splitServices: true, instance: '      track: [{ type: proxy }]' };
  const p1 = palisade('d1', vip, o);
  const p2 = palisade('d2', vip, o);
  await waitHolds('d1', vip, 15_000);
  await p2.waitForLine(/INIT -> BACKUP/, 10_000);
  const c = client(vip, 2);
  await c.waitForJson((m) => m.started === true);
  await settle(1_000);
  await webs.get('web1')!.stop(2_000);
  const moved = await waitHolds('d2', vip, 10_000);
  await p1.waitForLine(/MASTER -> FAULT/, 5_000);
  t.diagnostic(`web1 stopped: d2 held the VIP ${moved.toFixed(0)} ms later`);
  await settle(1_000);
  await startWebServers();
  const back = await waitHolds('d1', vip, 10_000);
  t.diagnostic(`web1 back: d1 held the VIP again ${back.toFixed(0)} ms later`);
  await settle(1_000);
  const r = await finish(c);
  report(t, 'proxy tracker: backend of the master down and back', r);
  assert.ok(r.servedBy.web2! > 0, 'd2 served through web2 while d1 had no backend');
  assert.ok(r.servedBy.web1! > 0);
  assert.deepEqual(transitions(p1).slice(-2), ['FAULT->BACKUP', 'BACKUP->MASTER']);
  await p1.stop(5_000);
  await p2.stop(5_000);
});
