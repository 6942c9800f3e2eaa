/**
 * The kernel data plane for real: a director runs `palisade run` with services in
 * mode nat (masquerade, and `replies: route`) and mode dr on one VIP, and HTTP from
 * a client reaches both real servers through each. In mode dr the real servers carry
 * the VIP on lo (set up with `palisade realserver`), and an observer counter on the
 * director's interface shows that no reply passes it (the same counter sees the NAT
 * replies). A reload applies new weights at once; a real server whose health check
 * fails gets no new connections while the connection it already had keeps working;
 * with VRRP the ruleset follows the VIP. Connections held open through a mode nat
 * VIP show in `palisade status` as active on their backends (from conntrack), and as
 * inactive once closed (TIME_WAIT); mode dr shows them as unknown (`-`).
 *
 * Lab 10.99.43.0/24: client .1, director .2, rs1 .3, rs2 .4, client2 .5; VIP .100 on the director.
 * Needs root and nft (scripts/setup-test-host.sh).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createLab, repoRoot, requireSystemHost, srcUrl } from './lab.ts';
import type { Lab, LabProcess } from './lab.ts';

const MAIN = join(repoRoot, 'src', 'cli', 'main.ts');
const NET = 43;
const VIP = `10.99.${NET}.100`;
const NAT_PORT = 80;
const DR_PORT = 8081;
const BACKEND_PORT = 8080;
const CHECK_PORT = 9000;
const ROUTED_PORT = 82;
const HELD_PORT = 84;

let lab: Lab;
let dir: string;
let file: string;
let daemon: LabProcess;
const servers = new Map<string, LabProcess>();

/** An HTTP server on BACKEND_PORT and DR_PORT answering its name; a TCP listener on CHECK_PORT for the health check that `{"check":false}` on stdin closes. */
function realServer(name: string): LabProcess {
  return lab.node(
    name,
    `import http from 'node:http';
     import net from 'node:net';
     const handler = (req, res) => { res.setHeader('content-type', 'text/plain'); res.end('${name} ' + req.socket.remoteAddress); };
     let up = 0;
     const ready = () => { if (++up === 3) console.log(JSON.stringify({ ready: '${name}' })); };
     // a long keep-alive: the health test reuses one connection across a health flip
     http.createServer({ keepAliveTimeout: 120_000 }, handler).listen(${BACKEND_PORT}, '0.0.0.0', ready);
     http.createServer(handler).listen(${DR_PORT}, '0.0.0.0', ready);
     const check = net.createServer((s) => s.end()).listen(${CHECK_PORT}, '0.0.0.0', ready);
     process.on('SIGUSR1', () => { check.close(); console.log(JSON.stringify({ check: false })); });`,
  );
}

function clusterFile(natBackends?: string): string {
  const rs = (p: number) => `[10.99.${NET}.3:${p}, 10.99.${NET}.4:${p}]`;
  return `runtime_dir: ${dir}
cluster: { name: klab }
log: { level: info, format: json, access: false }
nodes:
  director: { address: 10.99.${NET}.2 }
  rs1: { address: 10.99.${NET}.3, roles: [] }
services:
  web-nat:
    protocol: tcp
    mode: nat
    listen: ${VIP}:${NAT_PORT}
    scheduler: ${natBackends === undefined ? 'rr' : 'wrr'}
    backends: ${natBackends ?? rs(BACKEND_PORT)}
    health: { type: tcp, port: ${CHECK_PORT}, interval: 300ms, timeout: 1s, fall: 2, rise: 1 }
  web-dr:
    protocol: tcp
    mode: dr
    listen: ${VIP}:${DR_PORT}
    kernel: { interface: eth0 }
    backends: ${rs(DR_PORT)}
  web-routed:
    protocol: tcp
    mode: nat
    listen: ${VIP}:${ROUTED_PORT}
    kernel: { replies: route }
    backends: ${rs(BACKEND_PORT)}
  web-held:
    protocol: tcp
    mode: nat
    listen: ${VIP}:${HELD_PORT}
    backends: ${rs(BACKEND_PORT)}
`;
}

/** `count` HTTP GETs from the client to VIP:port, each on a new connection; the answering servers' names. */
async function fetchMany(port: number, count: number, from = 'client'): Promise<string[]> {
  const p = lab.node(
    from,
    `import http from 'node:http';
     const out = [];
     for (let i = 0; i < ${count}; i++) {
       out.push(await new Promise((resolve) => {
         const req = http.get({ host: '${VIP}', port: ${port}, path: '/', agent: false, timeout: 3000 }, (res) => { let b = ''; res.on('data', (d) => (b += d)); res.on('end', () => resolve(b)); });
         req.on('timeout', () => req.destroy(new Error('timeout')));
         req.on('error', (e) => resolve('error ' + e.message));
       }));
     }
     console.log(JSON.stringify({ answers: out }));`,
  );
  const m = await p.waitForJson<{ answers: string[] }>((x) => x.answers !== undefined, 60_000);
  return m.answers;
}

interface Status {
  services: { name: string; kernel?: { connectionsUnknown?: string }; backends: { id: string; status: string; requests: number; active: number | null; inactive: number | null }[] }[];
}

async function status(): Promise<Status> {
  return JSON.parse(await statusText('--json')) as Status;
}

async function statusText(...args: string[]): Promise<string> {
  const r = await lab.exec('director', [process.execPath, MAIN, 'status', '-c', file, '--node', 'director', ...args], { timeoutMs: 30_000, allowFail: true });
  if (r.code !== 0) assert.fail(`palisade status failed: ${r.stderr}\ndaemon output:\n${daemon.output().slice(-3000)}`);
  return r.stdout;
}

/** The director's conntrack entries to VIP:port (from /proc/net/nf_conntrack, the kernel's own listing): "<real server> <state>" → count. */
async function conntrackStates(port: number): Promise<Record<string, number>> {
  const r = await lab.exec('director', ['cat', '/proc/net/nf_conntrack']);
  const out: Record<string, number> = {};
  for (const line of r.stdout.split('\n')) {
    // ipv4 2 tcp 6 117 TIME_WAIT src=C dst=VIP sport=.. dport=84 src=RS dst=.. sport=8080 dport=.. [ASSURED] ...
    const m = new RegExp(`^ipv4\\s+2\\s+tcp\\s+6\\s+\\d+\\s+(\\S+)\\s+src=\\S+ dst=${VIP.replaceAll('.', '\\.')} sport=\\d+ dport=${port} (?:\\[UNREPLIED\\] )?src=(\\S+) `).exec(line);
    if (m !== null) out[`${m[2]} ${m[1]}`] = (out[`${m[2]} ${m[1]}`] ?? 0) + 1;
  }
  return out;
}

async function waitFor(what: string, pred: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`${what} within ${timeoutMs} ms; daemon output:\n${daemon.output().slice(-3000)}`);
}

/** The observer's counter on the director's eth0 ingress: packets from `saddr` with source port `sport`. */
async function observed(name: string): Promise<number> {
  const r = await lab.exec('director', ['nft', '-j', 'list', 'counter', 'netdev', 'observer', name]);
  const doc = JSON.parse(r.stdout) as { nftables: { counter?: { packets: number } }[] };
  return doc.nftables.find((x) => x.counter !== undefined)!.counter!.packets;
}

before(async () => {
  requireSystemHost(['nft', 'sysctl']);
  lab = await createLab(undefined, { hosts: ['client', 'director', 'rs1', 'rs2', 'client2'], net: NET });
  dir = mkdtempSync(join(tmpdir(), 'pal-kernel-'));
  file = join(dir, 'cluster.yaml');
  writeFileSync(file, clusterFile());
  await lab.exec('director', ['ip', 'addr', 'add', `${VIP}/24`, 'dev', 'eth0']);
  await lab.exec('director', ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  // kernel.replies: route — the real servers reach client2 through the director (their "default route" for it);
  // the director must not tell them (ICMP redirect) that client2 is on their own segment
  await lab.exec('director', ['sysctl', '-qw', 'net.ipv4.conf.all.send_redirects=0', 'net.ipv4.conf.eth0.send_redirects=0']);
  for (const rs of ['rs1', 'rs2']) await lab.exec(rs, ['ip', 'route', 'add', `${lab.host('client2').address}/32`, 'via', lab.host('director').address]);
  // an observer of our own, in its own table: replies from the real servers arriving at the director
  await lab.exec('director', ['nft', '-f', '-'], {
    input: `table netdev observer {
  counter nat_replies {}
  counter dr_replies {}
  chain in {
    type filter hook ingress device "eth0" priority 0; policy accept;
    ip saddr { 10.99.${NET}.3, 10.99.${NET}.4 } tcp sport ${BACKEND_PORT} counter name nat_replies
    ip saddr ${VIP} tcp sport ${DR_PORT} counter name dr_replies
  }
}
`,
  });
  for (const rs of ['rs1', 'rs2']) {
    const p = realServer(rs);
    servers.set(rs, p);
    await p.waitForJson((m) => m.ready === rs);
  }
  daemon = lab.spawn('director', [process.execPath, MAIN, 'run', '-c', file, '--node', 'director']);
  await daemon.waitForLine(/palisade started/, 30_000);
});

after(async () => {
  await daemon?.stop(10_000);
  await lab?.cleanup();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

test('palisade realserver puts the VIP on lo with the ARP sysctls, and stop restores what was there', async () => {
  const sysctls = async (host: string) => {
    const r = await lab.exec(host, ['sysctl', '-n', 'net.ipv4.conf.all.arp_ignore', 'net.ipv4.conf.all.arp_announce', 'net.ipv4.conf.eth0.arp_ignore', 'net.ipv4.conf.eth0.arp_announce', 'net.ipv4.conf.lo.arp_ignore']);
    return r.stdout.trim().split('\n').map(Number);
  };
  const lo = async (host: string) => JSON.stringify(await lab.ipJson(host, ['addr', 'show', 'dev', 'lo']));
  // a value of the operator's own that must come back after stop
  await lab.exec('rs1', ['sysctl', '-qw', 'net.ipv4.conf.all.arp_announce=1']);
  assert.deepEqual(await sysctls('rs1'), [0, 1, 0, 0, 0]);
  const state = join(dir, 'rs1.json');
  // an interface that is not there: refused before anything changes
  const bad = await lab.exec('rs1', [process.execPath, MAIN, 'realserver', 'start', '--vip', VIP, '--interface', 'nope0', '--state', state], { allowFail: true });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /cannot read \/proc\/sys\/net\/ipv4\/conf\/nope0\/arp_ignore .*Nothing was changed/);
  assert.deepEqual(await sysctls('rs1'), [0, 1, 0, 0, 0]);
  // the VIPs of the mode dr services that have rs1 as a backend, from the cluster file
  const start = await lab.exec('rs1', [process.execPath, MAIN, 'realserver', 'start', '-c', file, '--node', 'rs1', '--state', state]);
  assert.match(start.stdout, /real server for 10\.99\.43\.100:/);
  assert.match(start.stdout, /arp_ignore=1, arp_announce=2 on all, lo, eth0/);
  assert.deepEqual(await sysctls('rs1'), [1, 2, 1, 2, 1]);
  assert.match(await lo('rs1'), new RegExp(`"local":"${VIP.replaceAll('.', '\\.')}","prefixlen":32`));
  const st = await lab.exec('rs1', [process.execPath, MAIN, 'realserver', 'status', '--state', state]);
  assert.match(st.stdout, /set up for 10\.99\.43\.100/);
  const stop = await lab.exec('rs1', [process.execPath, MAIN, 'realserver', 'stop', '--state', state]);
  assert.match(stop.stdout, /removed 10\.99\.43\.100 from lo; restored 6 sysctl value\(s\)/);
  assert.deepEqual(await sysctls('rs1'), [0, 1, 0, 0, 0]);
  assert.doesNotMatch(await lo('rs1'), /10\.99\.43\.100/);
});

test('mode nat carries HTTP from the client to both real servers; replies come back through the director', async () => {
  const seen = await observed('nat_replies');
  const answers = await fetchMany(NAT_PORT, 10);
  const names = answers.map((a) => a.split(' ')[0]);
  assert.deepEqual(names.filter((n) => n === 'rs1').length, 5, answers.join('\n'));
  assert.deepEqual(names.filter((n) => n === 'rs2').length, 5, answers.join('\n'));
  // masquerade (kernel.replies: snat): the real servers see the director
  assert.ok(answers.every((a) => a.endsWith(` 10.99.${NET}.2`)), answers.join('\n'));
  assert.ok((await observed('nat_replies')) - seen >= 20, 'the NAT replies pass the director');
  const s = (await status()).services.find((x) => x.name === 'web-nat')!;
  assert.deepEqual(s.backends.map((b) => b.requests), [5, 5], JSON.stringify(s));
});

test('connections held open through a mode nat VIP show as active on their backends, and as inactive (TIME_WAIT) once closed; mode dr shows -', async () => {
  const held = () => status().then((st) => st.services.find((x) => x.name === 'web-held')!.backends.map((b) => [b.active, b.inactive]));
  assert.deepEqual(await held(), [[0, 0], [0, 0]], 'nothing through this VIP yet');
  // six TCP connections, rr: three on each real server, held open until SIGUSR2
  const holder = lab.node(
    'client',
    `import net from 'node:net';
     const sockets = await Promise.all(Array.from({ length: 6 }, () => new Promise((resolve, reject) => {
       const s = net.connect({ host: '${VIP}', port: ${HELD_PORT} }, () => resolve(s));
       s.on('error', reject);
     })));
     console.log(JSON.stringify({ open: sockets.length }));
     process.on('SIGUSR2', async () => {
       await Promise.all(sockets.map((s) => new Promise((resolve) => { s.on('close', resolve); s.end(); })));
       console.log(JSON.stringify({ closed: sockets.length }));
     });
     setTimeout(() => {}, 60_000);`,
  );
  await holder.waitForJson((m) => m.open === 6, 15_000);
  await waitFor('six established connections, three on each backend', async () => JSON.stringify(await held()) === JSON.stringify([[3, 0], [3, 0]]));
  const rs = [lab.host('rs1').address, lab.host('rs2').address];
  assert.deepEqual(await conntrackStates(HELD_PORT), { [`${rs[0]} ESTABLISHED`]: 3, [`${rs[1]} ESTABLISHED`]: 3 }, 'the kernel lists the same');
  // the addon both ways: dumps the kernel filters to the VIP (one VIP address), and one unfiltered dump (five: more than it filters for)
  const direct = lab.node(
    'director',
    `import { loadAddon } from '${srcUrl('src/ha/vrrp/raw.ts')}';
     import { connectionCounts, encodeConntrackRows } from '${srcUrl('src/proxy/kernel/conntrack.ts')}';
     const held = ${JSON.stringify(rs)}.map((server) => ({ protocol: 'tcp', vip: '${VIP}', vport: ${HELD_PORT}, server, sport: ${BACKEND_PORT} }));
     const others = [101, 102, 103, 104].map((n) => ({ protocol: 'tcp', vip: '10.99.${NET}.' + n, vport: ${HELD_PORT}, server: '${rs[0]}', sport: ${BACKEND_PORT} }));
     const out = [];
     for (const rows of [held, [...held, ...others]]) {
       const a = await loadAddon().conntrack(encodeConntrackRows(rows));
       out.push({ filtered: a.filtered, dumps: a.dumps, malformed: a.malformed, counts: held.map((_, i) => connectionCounts(a.counts, i)) });
     }
     console.log(JSON.stringify({ out }));`,
  );
  const three = { active: 3, inactive: 0 };
  assert.deepEqual((await direct.waitForJson<{ out: unknown[] }>((m) => m.out !== undefined, 15_000)).out, [
    { filtered: true, dumps: 1, malformed: 0, counts: [three, three] },
    { filtered: false, dumps: 1, malformed: 0, counts: [three, three] },
  ]);
  // the text status: numbers for nat, - for dr (stateless: the director never sees the replies)
  const text = await statusText();
  // backend  state  weight  active  inactive  requests  failures  check
  const columns = (id: string, section: string) => text.slice(text.indexOf(section)).split('\n').find((l) => l.trimStart().startsWith(id))!.trim().split(/\s+/).slice(3, 5);
  assert.deepEqual(columns(`${rs[0]}:${BACKEND_PORT}`, 'service web-held'), ['3', '0'], text);
  assert.deepEqual(columns(`${rs[0]}:${DR_PORT}`, 'service web-dr'), ['-', '-'], text);
  const dr = (await status()).services.find((x) => x.name === 'web-dr')!;
  assert.ok(dr.backends.every((b) => b.active === null && b.inactive === null), JSON.stringify(dr));
  assert.match(dr.kernel!.connectionsUnknown!, /mode dr keeps no connection state/);

  process.kill(holder.pid, 'SIGUSR2');
  await holder.waitForJson((m) => m.closed === 6, 15_000);
  await waitFor('the six closed connections inactive, none active', async () => JSON.stringify(await held()) === JSON.stringify([[0, 3], [0, 3]]));
  assert.deepEqual(await conntrackStates(HELD_PORT), { [`${rs[0]} TIME_WAIT`]: 3, [`${rs[1]} TIME_WAIT`]: 3 }, 'in TIME_WAIT, as the kernel lists them');
  await holder.stop();
});

test('mode nat with replies: route keeps the client address; the replies come back through the director', async () => {
  const answers = await fetchMany(ROUTED_PORT, 6, 'client2');
  const names = answers.map((a) => a.split(' ')[0]);
  assert.deepEqual([names.filter((n) => n === 'rs1').length, names.filter((n) => n === 'rs2').length], [3, 3], answers.join('\n'));
  assert.ok(answers.every((a) => a.endsWith(` ${lab.host('client2').address}`)), `no SNAT: ${answers.join('\n')}`);
});

test('mode dr carries HTTP to both real servers, and no reply passes the director', async () => {
  for (const rs of ['rs1', 'rs2']) await lab.exec(rs, [process.execPath, MAIN, 'realserver', 'start', '--vip', VIP, '--state', join(dir, `${rs}-dr.json`)]);
  const seen = await observed('dr_replies');
  const answers = await fetchMany(DR_PORT, 30);
  const names = answers.map((a) => a.split(' ')[0]);
  assert.ok(names.every((n) => n === 'rs1' || n === 'rs2'), answers.join('\n'));
  assert.ok(names.includes('rs1') && names.includes('rs2'), `both real servers answer: ${names.join(' ')}`);
  // direct routing keeps the client's address
  assert.ok(answers.every((a) => a.endsWith(` 10.99.${NET}.1`)), answers.join('\n'));
  assert.equal((await observed('dr_replies')) - seen, 0, 'no reply from the VIP arrived at the director');
  const s = (await status()).services.find((x) => x.name === 'web-dr')!;
  assert.ok(s.backends.every((b) => b.requests > 0), `the director forwarded packets to both: ${JSON.stringify(s.backends)}`);
});

test('a reload applies a new ruleset (weights 3:1) and keeps the counters', async () => {
  const was = (await status()).services.find((x) => x.name === 'web-nat')!.backends.map((b) => b.requests);
  writeFileSync(file, clusterFile(`[{ address: 10.99.${NET}.3:${BACKEND_PORT}, weight: 3 }, 10.99.${NET}.4:${BACKEND_PORT}]`));
  const r = await lab.exec('director', [process.execPath, MAIN, 'reload', '-c', file, '--node', 'director'], { timeoutMs: 30_000 });
  assert.match(r.stdout, /reloaded/);
  const names = (await fetchMany(NAT_PORT, 8)).map((a) => a.split(' ')[0]);
  assert.equal(names.filter((n) => n === 'rs1').length, 6, names.join(' '));
  assert.equal(names.filter((n) => n === 'rs2').length, 2, names.join(' '));
  const now = (await status()).services.find((x) => x.name === 'web-nat')!.backends.map((b) => b.requests);
  assert.deepEqual(now, [was[0]! + 6, was[1]! + 2], 'the counters went on from their values before the reload');
});

test('a real server marked down gets no new connections; the kernel keeps its open one', async () => {
  // a kept-alive connection: ask until it lands on rs1, then keep that one open
  const keeper = lab.node(
    'client',
    `import http from 'node:http';
     let agent, first;
     for (let i = 0; i < 10; i++) {
       agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
       const get = () => new Promise((resolve, reject) => http.get({ host: '${VIP}', port: ${NAT_PORT}, path: '/', agent }, (res) => { let b = ''; res.on('data', (d) => (b += d)); res.on('end', () => resolve(b)); }).on('error', reject));
       first = await get();
       if (first.startsWith('rs1')) {
         globalThis.get = get;
         break;
       }
       agent.destroy();
     }
     console.log(JSON.stringify({ first }));
     setInterval(() => {}, 60_000); // stays until the lab stops it
     process.on('SIGUSR2', async () => {
       const again = await globalThis.get().catch((e) => 'error ' + e.message);
       console.log(JSON.stringify({ again }));
     });`,
  );
  const { first } = await keeper.waitForJson<{ first: string }>((m) => m.first !== undefined, 30_000);
  assert.match(first, /^rs1 /);
  process.kill(servers.get('rs1')!.pid, 'SIGUSR1'); // rs1's check port closes: the health check fails
  await waitFor('rs1 marked down', async () => (await status()).services.find((x) => x.name === 'web-nat')!.backends[0]!.status === 'down');
  const answers = await fetchMany(NAT_PORT, 8);
  assert.deepEqual(
    answers.map((a) => a.split(' ')[0]),
    Array.from({ length: 8 }, () => 'rs2'),
  );
  process.kill(keeper.pid, 'SIGUSR2');
  const { again } = await keeper.waitForJson<{ again: string }>((m) => m.again !== undefined, 15_000);
  assert.match(again, /^rs1 /, 'the established connection to rs1 still works');
});

test('stop removes our tables and leaves the observer table alone', async () => {
  await daemon.stop(10_000);
  const r = await lab.exec('director', ['nft', 'list', 'tables']);
  assert.doesNotMatch(r.stdout, /palisade_lb|palisade_dr/);
  assert.match(r.stdout, /table netdev observer/);
  assert.match(daemon.output(), /tables ip palisade_lb and netdev palisade_dr removed/);
});

test('with VRRP the kernel services follow the VIP: in the ruleset while MASTER, removed with it on stop', async () => {
  await lab.exec('director', ['ip', 'addr', 'del', `${VIP}/24`, 'dev', 'eth0']);
  const vrrpFile = join(dir, 'vrrp.yaml');
  writeFileSync(
    vrrpFile,
    `${clusterFile()}vrrp:
  instances:
    VI_1:
      vrid: 63
      interface: eth0
      advert_interval: 1s
      virtual_ipaddress: [${VIP}/24]
      members: { director: 150 }
`.replace('cluster: { name: klab }', 'cluster: { name: klabvrrp }'),
  );
  const d = lab.spawn('director', [process.execPath, MAIN, 'run', '-c', vrrpFile, '--node', 'director']);
  await d.waitForLine(/palisade started/, 30_000);
  const tables = async () => (await lab.exec('director', ['nft', 'list', 'tables'])).stdout;
  // BACKUP first (no VIP yet; MASTER after ~3 advert intervals): no ruleset of ours
  assert.doesNotMatch(await tables(), /table ip palisade_lb/);
  const end = Date.now() + 20_000;
  while (!(await tables()).includes('table ip palisade_lb') && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
  assert.match(await tables(), /table ip palisade_lb/, `MASTER with the VIP: the ruleset is loaded; output:\n${d.output().slice(-2000)}`);
  const names = (await fetchMany(NAT_PORT, 4)).map((a) => a.split(' ')[0]);
  assert.ok(names.every((n) => n === 'rs2'), `rs1 is still down by its check: ${names.join(' ')}`);
  await d.stop(10_000);
  assert.doesNotMatch(await tables(), /palisade_lb|palisade_dr/);
  const addrs = JSON.stringify(await lab.ipJson('director', ['addr', 'show', 'dev', 'eth0']));
  assert.doesNotMatch(addrs, new RegExp(VIP.replaceAll('.', '\\.')), 'the VIP went with the stop');
});
