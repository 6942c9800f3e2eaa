/**
 * Kernel layer-4 benchmark: mode nat and mode dr (nftables, driven by `palisade run`)
 * vs direct, across a network-namespace lab. Needs root, nft, nginx and wrk.
 *
 *   node_modules/.bin/node bench/l4-kernel.ts [--duration 5] [--rounds 2]
 *
 * Lab 10.99.44.0/24 (its own, removed at the end): client .1 (wrk), director .2
 * (palisade, VIP .100), rs1 .3 and rs2 .4 (nginx origins, sendfile; the VIP on lo for
 * DR, set up with `palisade realserver`). Targets:
 *   - direct: wrk to rs1 itself (one server, no director on the path);
 *   - nat:    wrk to VIP:80, DNAT to rs1/rs2:8080 with masquerade (replies through the director);
 *   - dr:     wrk to VIP:8081, MAC rewrite to rs1/rs2 (replies straight to the client).
 * Workloads: `stream` — GET of a 4 MiB file over 8 keep-alive connections (MB/s);
 * `connect` — GET /small with `Connection: close` over 50 connections (connections/s).
 * All hosts share the machine's cores (veth pairs, one bridge): the figures compare
 * paths on the same machine, not what a real NIC would carry.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLab, repoRoot, requireSystemHost } from '../test/system/lab.ts';
import type { Lab, LabProcess } from '../test/system/lab.ts';
import { originNginx } from './lib/configs.ts';
import { parseWrk, type WrkResult } from './lib/wrk.ts';

const NET = 44;
const VIP = `10.99.${NET}.100`;
const BIG = 4 * 1024 * 1024;
const MAIN = path.join(repoRoot, 'src', 'cli', 'main.ts');
type Target = 'direct' | 'nat' | 'dr';
type Workload = 'stream' | 'connect';

const log = (msg: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

function args(argv: string[]): { duration: number; rounds: number } {
  const o = { duration: 5, rounds: 2 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--duration') o.duration = Number.parseInt(argv[++i] ?? '', 10);
    else if (a === '--rounds') o.rounds = Number.parseInt(argv[++i] ?? '', 10);
    else throw new Error(`unknown argument ${a}; usage: bench/l4-kernel.ts [--duration SECONDS] [--rounds N]`);
  }
  if (!(o.duration >= 1 && o.duration <= 60) || !(o.rounds >= 1 && o.rounds <= 10)) throw new Error('--duration 1-60 seconds, --rounds 1-10');
  return o;
}

function url(target: Target, workload: Workload): string {
  const file = workload === 'stream' ? '/big' : '/small';
  if (target === 'direct') return `http://10.99.${NET}.3:8080${file}`;
  return target === 'nat' ? `http://${VIP}:80${file}` : `http://${VIP}:8081${file}`;
}

async function wrk(lab: Lab, target: Target, workload: Workload, seconds: number): Promise<WrkResult> {
  const argv = workload === 'stream' ? ['wrk', '--latency', '-t1', '-c8', `-d${seconds}s`, url(target, workload)] : ['wrk', '--latency', '-t1', '-c50', `-d${seconds}s`, '-H', 'Connection: close', url(target, workload)];
  const r = await lab.exec('client', argv, { timeoutMs: (seconds + 30) * 1000 });
  return parseWrk(r.stdout);
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
    for (const t of ['direct', 'nat', 'dr'] as Target[]) {
      const check = await lab.exec('client', ['wrk', '--latency', '-t1', '-c1', '-d1s', url(t, 'connect')], { timeoutMs: 30_000 });
      if (parseWrk(check.stdout).requests === 0) throw new Error(`${t}: no answer; daemon output:\n${daemon.output()}`);
    }
    const results: Record<string, { target: Target; workload: Workload; value: number; errors: number }[]> = {};
    for (let round = 1; round <= opts.rounds; round++) {
      for (const workload of ['stream', 'connect'] as Workload[]) {
        for (const target of ['direct', 'nat', 'dr'] as Target[]) {
          const r = await wrk(lab, target, workload, opts.duration);
          const value = workload === 'stream' ? r.bytesPerSec / 1e6 : r.reqPerSec;
          (results[`${workload}`] ??= []).push({ target, workload, value, errors: r.errors });
          log(`round ${round} ${workload} ${target}: ${value.toFixed(workload === 'stream' ? 1 : 0)} ${workload === 'stream' ? 'MB/s' : 'conn/s'}${r.errors > 0 ? ` (${r.errors} errors)` : ''}`);
        }
      }
    }
    const lines: string[] = ['', `kernel L4 vs direct, ${opts.rounds} round(s) of ${opts.duration}s, median per target`, ''];
    lines.push('| workload | direct | nat | dr | nat / direct | dr / direct |', '| --- | --- | --- | --- | --- | --- |');
    for (const workload of ['stream', 'connect'] as Workload[]) {
      const med = (t: Target) => {
        const v = results[workload]!.filter((x) => x.target === t).map((x) => x.value).toSorted((a, b) => a - b);
        return v[Math.floor(v.length / 2)]!;
      };
      const d = med('direct');
      const unit = workload === 'stream' ? 'MB/s' : 'conn/s';
      const f = (v: number) => `${v.toFixed(0)} ${unit}`;
      lines.push(`| ${workload === 'stream' ? 'stream 4 MiB, 8 conns' : 'connect, 50 conns'} | ${f(d)} | ${f(med('nat'))} | ${f(med('dr'))} | ${(med('nat') / d).toFixed(2)} | ${(med('dr') / d).toFixed(2)} |`);
    }
    const errors = Object.values(results).flat().reduce((n, r) => n + r.errors, 0);
    if (errors > 0) lines.push('', `WARNING: ${errors} wrk errors (non-2xx or socket errors) in these runs: the figures are not valid`);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await Promise.all(procs.map((p) => p.stop(5_000)));
    await lab.cleanup();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
