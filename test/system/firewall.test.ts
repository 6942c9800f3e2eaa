/**
 * The firewall for real: `palisade firewall apply` loads the ruleset inside a lab
 * host (its own network namespace), and real tools attack it from two other hosts
 * on the lab bridge: TCP connects, hping3 (each stealth-scan flag combination, a
 * spoofed private source, a SYN flood), nmap (-sN, -sF, -sX). The named counters
 * are read back with `palisade firewall status --json`. Then apply without a
 * confirmation rolls back by itself, with one stays, and another nft table of the
 * namespace is never touched.
 *
 * Lab 10.99.31.0/24: server .1 (firewalled), client .2, admin .3 (the only SSH and
 * agent source). Needs root, nft, hping3 and nmap (scripts/setup-test-host.sh).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createLab, repoRoot, requireSystemHost } from './lab.ts';
import type { Lab } from './lab.ts';

const MAIN = join(repoRoot, 'src', 'cli', 'main.ts');
const NET = 31;
const SERVICE = 8080;
const SSH = 2222;
const AGENT = 5666;
const CLOSED = 9999; // something listens, but the firewall does not allow it

let lab: Lab;
let dir: string;
let file: string;
let server: string;

function clusterFile(extra = ''): string {
  return `runtime_dir: ${dir}
cluster: { name: fwlab }
log: { level: warn, format: json }
nodes:
  server: { address: ${server} }
services:
  www: { listen: ${SERVICE}, backends: ["10.99.${NET}.250:80"] }
firewall:
  public_interfaces: [eth0]
  ssh: { port: ${SSH}, sources: [10.99.${NET}.3] }
  agent: { ports: [${AGENT}], sources: [10.99.${NET}.3] }
  syn_limit: { rate: 10, burst: 20 }
  anti_spoofing: { exclude: [10.99.${NET}.0/24] }
${extra}`;
}

const OTHER_TABLES = `table inet other {
  counter seen {}
  chain c {
    type filter hook input priority 10; policy accept;
    counter name seen
  }
}
table ip legacy {
  chain x { }
}
`;

before(async () => {
  requireSystemHost(['nft', 'hping3', 'nmap']);
  lab = await createLab(undefined, { hosts: ['server', 'client', 'admin'], net: NET });
  server = lab.host('server').address;
  dir = mkdtempSync(join(tmpdir(), 'pal-fw-'));
  file = join(dir, 'cluster.yaml');
  writeFileSync(file, clusterFile());
  await lab.exec('server', ['nft', '-f', '-'], { input: OTHER_TABLES });
  // one process answering on every port the test probes
  const listener = lab.node(
    'server',
    `import net from 'node:net';
     let up = 0;
     for (const port of [${SERVICE}, ${SSH}, ${AGENT}, ${CLOSED}]) {
       net.createServer((s) => { s.on('error', () => {}); s.end('hi'); }).listen(port, '0.0.0.0', () => { if (++up === 4) console.log(JSON.stringify({ ready: true })); });
     }`,
  );
  await listener.waitForJson((m) => m.ready === true);
});

after(async () => {
  await lab?.cleanup();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** `palisade ...` inside the server namespace. */
function palisade(args: string[], timeoutMs = 30_000) {
  return lab.exec('server', [process.execPath, MAIN, ...args], { allowFail: true, timeoutMs });
}

async function counters(): Promise<Record<string, number>> {
  const r = await palisade(['firewall', 'status', '-c', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { counters: Record<string, { packets: number }> };
  return Object.fromEntries(Object.entries(doc.counters).map(([k, v]) => [k, v.packets]));
}

/** Connects from `host` to each port of the server: open (got the greeting), timeout (dropped) or refused. */
async function probe(host: string, ports: number[]): Promise<Record<number, string>> {
  const p = lab.node(
    host,
    `import net from 'node:net';
     const out = {};
     await Promise.all(${JSON.stringify(ports)}.map((port) => new Promise((resolve) => {
       const s = net.connect(port, '${server}');
       const done = (r) => { out[port] = out[port] ?? r; s.destroy(); resolve(); };
       s.setTimeout(1500, () => done('timeout'));
       s.on('data', () => done('open'));
       s.on('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : e.code));
     })));
     console.log(JSON.stringify({ probe: out }));`,
  );
  const m = await p.waitForJson<{ probe: Record<number, string> }>((x) => x.probe !== undefined, 15_000);
  return m.probe;
}

/** Our table as nft lists it, without what changes by itself (counter values, dynamic set entries). */
async function ourTable(): Promise<string | undefined> {
  const r = await lab.exec('server', ['nft', '-s', 'list', 'table', 'inet', 'palisade'], { allowFail: true });
  if (r.code !== 0) return undefined;
  return r.stdout
    .split('\n')
    .filter((l) => !l.includes('expires'))
    .join('\n');
}

async function otherTables(): Promise<string> {
  const a = await lab.exec('server', ['nft', '-s', 'list', 'table', 'inet', 'other']);
  const b = await lab.exec('server', ['nft', 'list', 'table', 'ip', 'legacy']);
  return a.stdout + b.stdout;
}

let othersBefore: string;

test('apply, confirmed: the ruleset stays; allowed ports connect, the others do not; SSH and agent only from admin', async () => {
  othersBefore = await otherTables();
  assert.deepEqual(await probe('client', [SERVICE, CLOSED]), { [SERVICE]: 'open', [CLOSED]: 'open' }, 'before: everything reachable');

  const apply = lab.spawn('server', [process.execPath, MAIN, 'firewall', 'apply', '-c', file, '--confirm-timeout', '60s']);
  await apply.waitForLine(/waiting .* for: palisade firewall confirm/, 20_000);
  const c = await palisade(['firewall', 'confirm', '-c', file]);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /confirmed: node server keeps/);
  const { code } = await apply.exited;
  assert.equal(code, 0, apply.output());
  assert.match(apply.output(), /confirmed: the new ruleset stays/);

  const c0 = await counters();
  assert.deepEqual(await probe('client', [SERVICE, CLOSED, SSH, AGENT]), { [SERVICE]: 'open', [CLOSED]: 'timeout', [SSH]: 'timeout', [AGENT]: 'timeout' });
  assert.deepEqual(await probe('admin', [SERVICE, SSH, AGENT]), { [SERVICE]: 'open', [SSH]: 'open', [AGENT]: 'open' });
  const c1 = await counters();
  assert.ok(c1.ssh_denied! > c0.ssh_denied!, 'the client SSH attempt was counted');
  assert.ok(c1.agent_denied! > c0.agent_denied!, 'the client agent attempt was counted');
  assert.ok(c1.input_dropped! > c0.input_dropped!, 'the closed port attempt was counted');
  assert.equal(await otherTables(), othersBefore, 'other tables untouched');
});

const SCANS: { counter: string; flags: string[]; what: string }[] = [
  { counter: 'scan_null', flags: [], what: 'NONE' },
  { counter: 'scan_syn_fin', flags: ['-S', '-F'], what: 'SYN+FIN' },
  { counter: 'scan_syn_rst', flags: ['-S', '-R'], what: 'SYN+RST' },
  { counter: 'scan_fin_rst', flags: ['-F', '-R'], what: 'FIN+RST' },
  { counter: 'scan_fin_no_ack', flags: ['-F'], what: 'FIN without ACK' },
  { counter: 'scan_psh_no_ack', flags: ['-P'], what: 'PSH without ACK' },
  { counter: 'scan_urg_no_ack', flags: ['-U'], what: 'URG without ACK' },
];

test('each stealth-scan flag combination (hping3) is dropped, unanswered, and counted by its own counter', async () => {
  const SENT = 3;
  for (const scan of SCANS) {
    const c0 = await counters();
    const r = await lab.exec('client', ['hping3', '-c', String(SENT), '-i', 'u50000', ...scan.flags, '-p', String(SERVICE), server], { allowFail: true, timeoutMs: 20_000 });
    const c1 = await counters();
    assert.match(r.stderr + r.stdout, new RegExp(`${SENT} packets transmitted, 0 packets received`), `${scan.what}: no answer`);
    for (const s of SCANS) {
      assert.equal(c1[s.counter]! - c0[s.counter]!, s === scan ? SENT : 0, `${scan.what}: counter ${s.counter}`);
    }
  }
});

test('nmap NULL, FIN and Xmas scans learn nothing: even the listening-but-blocked port shows open|filtered, not closed', async () => {
  for (const [flag, counter] of [
    ['-sN', 'scan_null'],
    ['-sF', 'scan_fin_no_ack'],
    ['-sX', 'scan_fin_no_ack'],
  ] as const) {
    const c0 = await counters();
    const r = await lab.exec('client', ['nmap', flag, '-n', '-Pn', '--max-retries', '1', '-p', `${SERVICE},${CLOSED},1`, server], { timeoutMs: 60_000 });
    const c1 = await counters();
    for (const port of [SERVICE, CLOSED, 1]) assert.match(r.stdout, new RegExp(`^${port}/tcp\\s+open\\|filtered`, 'm'), `${flag} port ${port}:\n${r.stdout}`);
    assert.ok(c1[counter]! - c0[counter]! >= 3, `${flag}: ${counter} counted the probes`);
  }
});

test('a spoofed private source on the public interface is dropped and counted; the lab network (excluded) is not', async () => {
  const c0 = await counters();
  const r = await lab.exec('client', ['hping3', '-c', '3', '-i', 'u50000', '-S', '-a', '192.168.77.7', '-p', String(SERVICE), server], { allowFail: true, timeoutMs: 20_000 });
  const c1 = await counters();
  assert.match(r.stderr + r.stdout, /3 packets transmitted/);
  assert.equal(c1.spoofed_source! - c0.spoofed_source!, 3);
  assert.deepEqual(await probe('client', [SERVICE]), { [SERVICE]: 'open' });
});

test('a SYN flood from one source is cut to the per-source rate; another source still connects', async () => {
  const SENT = 400;
  const c0 = await counters();
  const t0 = performance.now();
  await lab.exec('client', ['hping3', '-c', String(SENT), '-i', 'u2000', '-S', '-p', String(SERVICE), server], { allowFail: true, timeoutMs: 60_000 });
  const seconds = (performance.now() - t0) / 1000;
  const c1 = await counters();
  const dropped = c1.syn_flood! - c0.syn_flood!;
  // rate 10/s, burst 20: at most burst + rate × duration get through (+1 s of slack)
  const allowed = 20 + 10 * Math.ceil(seconds + 1);
  console.log(JSON.stringify({ synFlood: { sent: SENT, dropped, passed: SENT - dropped, seconds: Number(seconds.toFixed(2)), allowedAtMost: allowed } }));
  assert.ok(dropped >= SENT - allowed, `dropped ${dropped} of ${SENT} in ${seconds.toFixed(2)} s; at most ${allowed} may pass`);
  assert.ok(dropped < SENT, 'the burst got through');
  assert.deepEqual(await probe('admin', [SERVICE]), { [SERVICE]: 'open' }, 'another source is not limited');
});

test('apply without a confirmation rolls back to the previous table by itself', async () => {
  const previous = await ourTable();
  assert.ok(previous !== undefined);
  const file2 = join(dir, 'cluster-open-9999.yaml');
  writeFileSync(file2, clusterFile(`  allow: { tcp: [${CLOSED}] }\n`));
  const apply = lab.spawn('server', [process.execPath, MAIN, 'firewall', 'apply', '-c', file2, '--confirm-timeout', '5s']);
  await apply.waitForLine(/waiting .* for: palisade firewall confirm/, 20_000);
  assert.deepEqual(await probe('client', [CLOSED]), { [CLOSED]: 'open' }, 'the new ruleset is loaded while apply waits');
  const { code } = await apply.exited;
  assert.equal(code, 3, apply.output());
  assert.match(apply.output(), /no confirmation in time: rolled back to the previous table inet palisade/);
  assert.equal(await ourTable(), previous, 'the table is as it was');
  assert.deepEqual(await probe('client', [CLOSED]), { [CLOSED]: 'timeout' });
  assert.equal(await otherTables(), othersBefore, 'other tables untouched');
});

test('with no table before, an unconfirmed apply (timeout, or a signal) leaves none; remove leaves the other tables', async () => {
  const rm = await palisade(['firewall', 'remove', '-c', file]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.match(rm.stdout, /removed table inet palisade/);
  assert.equal(await ourTable(), undefined);
  assert.equal(await otherTables(), othersBefore);

  const apply = lab.spawn('server', [process.execPath, MAIN, 'firewall', 'apply', '-c', file, '--confirm-timeout', '3s']);
  await apply.waitForLine(/waiting/, 20_000);
  assert.notEqual(await ourTable(), undefined, 'loaded while waiting');
  assert.equal((await apply.exited).code, 3, apply.output());
  assert.match(apply.output(), /rolled back to no table inet palisade/);
  assert.equal(await ourTable(), undefined);

  // the operator's session ends (SIGTERM / SIGHUP): roll back at once, not at the timeout
  const interrupted = lab.spawn('server', [process.execPath, MAIN, 'firewall', 'apply', '-c', file, '--confirm-timeout', '10m']);
  await interrupted.waitForLine(/waiting/, 20_000);
  await interrupted.stop(5_000);
  assert.match(interrupted.output(), /aborted: rolled back to no table inet palisade/);
  assert.equal(await ourTable(), undefined);
  const st = await palisade(['firewall', 'status', '-c', file]);
  assert.equal(st.code, 1);
  assert.match(st.stdout, /no table inet palisade/);
  assert.equal(await otherTables(), othersBefore, 'other tables untouched');
});
