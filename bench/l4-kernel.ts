/**
 * Kernel layer-4 benchmark: mode nat and mode dr (nftables, driven by `palisade run`)
 * vs direct, across a network-namespace lab. Needs root, nft, nginx and wrk.
 *
 *   node_modules/.bin/node bench/l4-kernel.ts [--duration 5] [--rounds 3]
 *
 * Lab 10.99.44.0/24 (its own, removed at the end): client .1 (wrk), director .2
 * (palisade, VIP .100), rs1 .3 and rs2 .4 (nginx origins, sendfile; the VIP on lo for
 * DR, set up with `palisade realserver`). Every run is two wrk instances side by side
 * (the same client load for every target):
 *   - direct: one wrk at rs1, one at rs2 (no director on the path);
 *   - routed: the same, to second addresses of rs1/rs2 (.13/.14) that the client and
 *             the servers route through the director as a plain IP router, conntrack
 *             off (`notrack`) — no load balancer at all: what the extra hop alone
 *             costs in this lab, the floor of any director that both directions cross;
 *   - nat:    both at VIP:80, DNAT to rs1/rs2:8080 with masquerade (replies through the director);
 *   - dr:     both at VIP:8081, MAC rewrite to rs1/rs2 (replies straight to the client).
 * Workloads: `stream` — GET of a 4 MiB file over 2 × 4 keep-alive connections (MB/s);
 * `connect` — GET /small with `Connection: close` over 2 × 25 connections (connections/s).
 * Besides the rates it prints the CPU the whole machine spent per connection / per MB
 * (both cores, from /proc/stat). All hosts share the machine's two cores (veth pairs,
 * one bridge): a director's kernel work comes out of the same CPU the client and the
 * servers use, so the figures compare paths on one machine, not what a NIC would carry.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLab, repoRoot, requireSystemHost } from '../test/system/lab.ts';
import type { Lab, LabProcess } from '../test/system/lab.ts';
import { originNginx } from './lib/configs.ts';
import { parseWrk } from './lib/wrk.ts';

const NET = 44;
const VIP = `10.99.${NET}.100`;
const BIG = 4 * 1024 * 1024;
const MAIN = path.join(repoRoot, 'src', 'cli', 'main.ts');
type Target = 'direct' | 'routed' | 'nat' | 'dr';
const TARGETS: readonly Target[] = ['direct', 'routed', 'nat', 'dr'];
type Workload = 'stream' | 'connect';

const log = (msg: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

function args(argv: string[]): { duration: number; rounds: number } {
  const o = { duration: 5, rounds: 3 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--duration') o.duration = Number.parseInt(argv[++i] ?? '', 10);
    else if (a === '--rounds') o.rounds = Number.parseInt(argv[++i] ?? '', 10);
    else throw new Error(`unknown argument ${a}; usage: bench/l4-kernel.ts [--duration SECONDS] [--rounds N]`);
  }
  if (!(o.duration >= 1 && o.duration <= 60) || !(o.rounds >= 1 && o.rounds <= 10)) throw new Error('--duration 1-60 seconds, --rounds 1-10');
  return o;
}

/** Where each of the two wrk instances of a run points. */
function urls(target: Target, workload: Workload): [string, string] {
  const file = workload === 'stream' ? '/big' : '/small';
  if (target === 'direct') return [`http://10.99.${NET}.3:8080${file}`, `http://10.99.${NET}.4:8080${file}`];
  if (target === 'routed') return [`http://10.99.${NET}.13:8080${file}`, `http://10.99.${NET}.14:8080${file}`];
  const u = target === 'nat' ? `http://${VIP}:80${file}` : `http://${VIP}:8081${file}`;
  return [u, u];
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
function cpuTimes(): { busy: number; total: number } {
  const v = /^cpu\s+(.*)$/m.exec(readFileSync('/proc/stat', 'utf8'))![1]!.split(/\s+/).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - v[3]! - v[4]!, total };
}

interface Run {
  /** MB/s (stream) or connections/s (connect), both wrk instances summed. */
  value: number;
  errors: number;
  /** CPU microseconds (all cores) per MB or per connection. */
  cpuPer: number;
}

/** One run: two wrk instances side by side. */
async function run(lab: Lab, target: Target, workload: Workload, seconds: number): Promise<Run> {
  const hz = 100;
  const before = cpuTimes();
  const rs = await Promise.all(
    urls(target, workload).map(async (u) => {
      const argv = workload === 'stream' ? ['wrk', '--latency', '-t1', '-c4', `-d${seconds}s`, u] : ['wrk', '--latency', '-t1', '-c25', `-d${seconds}s`, '-H', 'Connection: close', u];
      return parseWrk((await lab.exec('client', argv, { timeoutMs: (seconds + 30) * 1000 })).stdout);
    }),
  );
  const after = cpuTimes();
  const units = rs.reduce((n, r) => n + (workload === 'stream' ? r.bytesRead / 1e6 : r.requests), 0);
  return {
    value: rs.reduce((n, r) => n + (workload === 'stream' ? r.bytesPerSec / 1e6 : r.reqPerSec), 0),
    errors: rs.reduce((n, r) => n + r.errors, 0),
    // busy jiffies (USER_HZ 100) of the whole machine while the two ran
    cpuPer: (((after.busy - before.busy) / hz) * 1e6) / Math.max(1, units),
  };
}

async function main(): Promise<void> {
  const opts = args(process.argv.slice(2));
  requireSystemHost(['nft', 'sysctl', 'nginx', 'wrk']);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pal-bench-kernel-'));
  const lab = await createLab(undefined, { hosts: ['client', 'director', 'rs1', 'rs2'], net: NET });
  const procs: LabProcess[] = [];
  try {
    const nginxV = (await lab.exec('rs1', ['nginx', '-V'])).stderr;
    const www = path.join(tmp, 'www');
    mkdirSync(www);
    writeFileSync(path.join(www, 'big'), Buffer.alloc(BIG, 'x'));
    // nginx's workers run as an unprivileged user: they must reach the file
    chmodSync(tmp, 0o755);
    chmodSync(www, 0o755);
    chmodSync(path.join(www, 'big'), 0o644);
    for (const rs of ['rs1', 'rs2']) {
      const dir = path.join(tmp, rs);
      mkdirSync(path.join(dir, 'tmp'), { recursive: true });
      // one nginx per real server, on every address (its own and the VIP on lo), ports 8080 and 8081
      const conf = originNginx(dir, nginxV, 8080, www).replace('listen 127.0.0.1:8080 backlog=4096;', 'listen 0.0.0.0:8080 backlog=4096;\n    listen 0.0.0.0:8081 backlog=4096;');
      writeFileSync(path.join(dir, 'nginx.conf'), conf);
      procs.push(lab.spawn(rs, ['nginx', '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')]));
      await lab.exec(rs, [process.execPath, MAIN, 'realserver', 'start', '--vip', VIP, '--state', path.join(dir, 'realserver.json')]);
    }
    await lab.exec('director', ['ip', 'addr', 'add', `${VIP}/24`, 'dev', 'eth0']);
    await lab.exec('director', ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    // the routed reference: the client reaches .13/.14 through the director, and the
    // servers answer from them through it too (policy route by source); no redirects,
    // no conntrack for them (the director's nat table would otherwise track them)
    await lab.exec('director', ['sysctl', '-qw', 'net.ipv4.conf.all.send_redirects=0', 'net.ipv4.conf.eth0.send_redirects=0']);
    await lab.exec('director', ['nft', '-f', '-'], {
      input: `table ip palbench {\n chain raw {\n  type filter hook prerouting priority raw;\n  ip daddr { 10.99.${NET}.13, 10.99.${NET}.14 } notrack\n  ip saddr { 10.99.${NET}.13, 10.99.${NET}.14 } notrack\n }\n}\n`,
    });
    await lab.exec('client', ['sysctl', '-qw', 'net.ipv4.conf.all.accept_redirects=0', 'net.ipv4.conf.eth0.accept_redirects=0']);
    for (const [rs, a] of [['rs1', 13], ['rs2', 14]] as const) {
      await lab.exec(rs, ['ip', 'addr', 'add', `10.99.${NET}.${a}/32`, 'dev', 'eth0']);
      await lab.exec(rs, ['ip', 'rule', 'add', 'from', `10.99.${NET}.${a}`, 'table', '100']);
      await lab.exec(rs, ['ip', 'route', 'add', `10.99.${NET}.1/32`, 'via', `10.99.${NET}.2`, 'table', '100']);
      await lab.exec('client', ['ip', 'route', 'add', `10.99.${NET}.${a}/32`, 'via', `10.99.${NET}.2`]);
    }
    const file = path.join(tmp, 'cluster.yaml');
    writeFileSync(
      file,
      `runtime_dir: ${tmp}
cluster: { name: kbench }
log: { level: warn, format: json, access: false }
nodes:
  director: { address: 10.99.${NET}.2 }
services:
  nat:
    protocol: tcp
    mode: nat
    listen: ${VIP}:80
    scheduler: rr
    backends: [10.99.${NET}.3:8080, 10.99.${NET}.4:8080]
  dr:
    protocol: tcp
    mode: dr
    listen: ${VIP}:8081
    kernel: { interface: eth0 }
    backends: [10.99.${NET}.3:8081, 10.99.${NET}.4:8081]
`,
    );
    const daemon = lab.spawn('director', [process.execPath, MAIN, 'run', '-c', file, '--node', 'director']);
    procs.push(daemon);
    // warn level: wait until the tables are there
    for (let i = 0; i < 100; i++) {
      const t = await lab.exec('director', ['nft', 'list', 'tables']);
      if (t.stdout.includes('palisade_dr')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const t of TARGETS) {
      const check = await lab.exec('client', ['wrk', '--latency', '-t1', '-c1', '-d1s', urls(t, 'connect')[0]], { timeoutMs: 30_000 });
      if (parseWrk(check.stdout).requests === 0) throw new Error(`${t}: no answer; daemon output:\n${daemon.output()}`);
    }
    const results: (Run & { target: Target; workload: Workload })[] = [];
    for (let round = 1; round <= opts.rounds; round++) {
      for (const workload of ['stream', 'connect'] as Workload[]) {
        for (const target of TARGETS) {
          const r = await run(lab, target, workload, opts.duration);
          results.push({ ...r, target, workload });
          const unit = workload === 'stream' ? 'MB/s' : 'conn/s';
          log(`round ${round} ${workload} ${target}: ${r.value.toFixed(workload === 'stream' ? 1 : 0)} ${unit}, ${r.cpuPer.toFixed(0)} µs CPU per ${workload === 'stream' ? 'MB' : 'connection'}${r.errors > 0 ? ` (${r.errors} errors)` : ''}`);
        }
      }
    }
    const lines: string[] = ['', `kernel L4 vs direct, ${opts.rounds} round(s) of ${opts.duration}s, median per target; CPU = µs of the machine's CPU (both cores) per MB / per connection`, ''];
    lines.push('| workload | | direct | routed (no LB) | nat | dr | nat ÷ direct | dr ÷ direct | routed ÷ direct | nat ÷ routed |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const workload of ['stream', 'connect'] as Workload[]) {
      const med = (t: Target, key: 'value' | 'cpuPer'): number => {
        const v = results.filter((x) => x.workload === workload && x.target === t).map((x) => x[key]).toSorted((a, b) => a - b);
        return v[Math.floor(v.length / 2)]!;
      };
      const name = workload === 'stream' ? 'stream 4 MiB, 2 × 4 conns' : 'connect, 2 × 25 conns';
      const r = (a: Target, b: Target) => (med(a, 'value') / med(b, 'value')).toFixed(2);
      lines.push(`| ${name} | ${workload === 'stream' ? 'MB/s' : 'conn/s'} | ${TARGETS.map((t) => med(t, 'value').toFixed(0)).join(' | ')} | ${r('nat', 'direct')} | ${r('dr', 'direct')} | ${r('routed', 'direct')} | ${r('nat', 'routed')} |`);
      lines.push(`| | CPU µs per ${workload === 'stream' ? 'MB' : 'conn'} | ${TARGETS.map((t) => med(t, 'cpuPer').toFixed(0)).join(' | ')} | | | | |`);
    }
    const errors = results.reduce((n, r) => n + r.errors, 0);
    if (errors > 0) lines.push('', `WARNING: ${errors} wrk errors (non-2xx or socket errors) in these runs: the figures are not valid`);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await Promise.all(procs.map((p) => p.stop(5_000)));
    await lab.cleanup();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
