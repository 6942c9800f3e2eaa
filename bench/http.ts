/**
 * HTTP benchmark: direct origin vs nginx vs HAProxy vs Palisade as reverse proxies.
 *
 *   node bench/http.ts [--duration 10s] [--rounds 3] [--only small,64k] ...   (see --help / bench/README.md)
 *
 * Layout (2 cores): the proxy under test on cpu 0 (one worker, upstream keep-alive); wrk and
 * the origin nginx share cpu 1. Targets are measured interleaved: round 1 runs direct, nginx,
 * haproxy, palisade, round 2 the same, and so on; the table gives medians over rounds.
 * Everything listens on 127.0.0.1 on free ports; every process runs from a temporary directory
 * with its own config, pid and log files, and is stopped by its PID / process group at the end
 * (also on error and on SIGINT / SIGTERM).
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs, USAGE, type Options, type Target, type Workload } from './lib/args.ts';
import { bigBody, haproxyCfg, originNginx, palisadeYaml, proxyNginx, SMALL_BODY } from './lib/configs.ts';
import { ensureTools, versions, type Tools } from './lib/install.ts';
import { benchmarkStopping, cpuTimes, freePorts, groupCpuTicks, logTail, run, runBenchmark, startProc, stopAll, waitForPort, type Proc } from './lib/procs.ts';
import { renderTable, summarize, type RunRecord, type TargetStatus } from './lib/report.ts';
import { parseWrk, type WrkResult } from './lib/wrk.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const PATHS: Record<Workload, string> = { small: '/small', '64k': '/64k' };

const log = (msg: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

const shq = (s: string): string => (/^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

interface Running {
  proc: Proc;
  port: number;
}

/** One GET with a fresh connection; the whole body. */
function fetchBody(port: number, urlPath: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false, timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
  });
}

async function startNginx(name: string, tools: Tools, dir: string, conf: string, cpus: string): Promise<Proc> {
  mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  const file = path.join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  const errLog = path.join(dir, 'error.log');
  const test = await run(tools.nginx, ['-t', '-q', '-p', `${dir}/`, '-e', errLog, '-c', file]);
  if (test.code !== 0) throw new Error(`nginx -t failed: ${(test.stderr + test.stdout).trim()}`);
  return startProc(name, tools.nginx, ['-p', `${dir}/`, '-e', errLog, '-c', file], { cpus, logFile: path.join(dir, 'stdout.log') });
}

async function main(onCleanup: (fn: () => void) => void): Promise<number> {
  let opts: Options;
  try {
    opts = parseArgs(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const started = new Date();
  const cores = os.availableParallelism();
  if (cores < 2) log(`warning: only ${cores} cpu: the proxy, wrk and the origin share it`);

  const tools = await ensureTools(opts.install, log);
  const repoNode = path.join(ROOT, 'node_modules/.bin/node');
  const nodeBin = existsSync(repoNode) ? repoNode : process.execPath;
  const vers = await versions(tools, nodeBin);
  const clkTck = Number((await run('getconf', ['CLK_TCK'])).stdout.trim()) || 100;
  const layout = `proxy on cpu ${opts.proxyCpu} (1 worker); wrk -t${opts.threads} -c${opts.connections} on cpu ${opts.loadCpu}; origin nginx (1 worker) on cpu ${opts.originCpu}`;
  const header = [
    `nginx ${vers.nginx} | ${vers.haproxy} | ${vers.wrk} | node ${vers.node} (Palisade)`,
    `cpu: ${vers.cpu} x ${cores}, kernel ${vers.kernel}`,
    `layout: ${layout}`,
    `runs: ${opts.rounds} round(s) x ${opts.duration}s per target and workload, warm-up ${opts.warmup}s; X-Forwarded-* headers ${opts.forwarded ? 'on' : 'off'} in every proxy`,
  ].join('\n');
  process.stdout.write(`${header}\n\n`);

  const tmp = mkdtempSync(path.join(os.tmpdir(), 'palisade-bench-'));
  onCleanup(opts.keepTmp ? () => log(`kept ${tmp}`) : () => rmSync(tmp, { recursive: true, force: true }));
  // nginx workers drop root for an unprivileged user: they must be able to read the files.
  chmodSync(tmp, 0o755);
  const status: Record<string, TargetStatus> = {};
  const runs: RunRecord[] = [];
  try {
    const www = path.join(tmp, 'www');
    mkdirSync(www);
    const big = bigBody();
    writeFileSync(path.join(www, '64k'), big);
    const expected: Record<Workload, Buffer> = { small: Buffer.from(SMALL_BODY), '64k': big };
    const nginxV = (await run(tools.nginx, ['-V'])).stderr;
    const [originPort, nginxPort, haproxyPort, palisadePort] = (await freePorts(4)) as [number, number, number, number];

    // Origin.
    const originDir = path.join(tmp, 'origin');
    mkdirSync(originDir);
    const origin = await startNginx('origin', tools, originDir, originNginx(originDir, nginxV, originPort, www), opts.originCpu);
    await waitForPort(originPort, origin, 10_000);
    log(`origin nginx pid ${origin.pid} on 127.0.0.1:${originPort}`);

    // Proxies.
    const servers = new Map<Target, Running>();
    /** The process of each proxy, once spawned (for its output when it fails to start). */
    const startedProcs = new Map<Target, Proc>();
    if (opts.targets.includes('direct')) servers.set('direct', { proc: origin, port: originPort });
    const starters: Partial<Record<Target, () => Promise<Running>>> = {
      nginx: async () => {
        const dir = path.join(tmp, 'nginx');
        mkdirSync(dir);
        const proc = await startNginx('nginx', tools, dir, proxyNginx(dir, nginxV, nginxPort, originPort, opts.forwarded), opts.proxyCpu);
        startedProcs.set('nginx', proc);
        await waitForPort(nginxPort, proc, 10_000);
        return { proc, port: nginxPort };
      },
      haproxy: async () => {
        const dir = path.join(tmp, 'haproxy');
        mkdirSync(dir);
        const file = path.join(dir, 'haproxy.cfg');
        writeFileSync(file, haproxyCfg(haproxyPort, originPort, opts.forwarded));
        const check = await run(tools.haproxy, ['-c', '-q', '-f', file]);
        if (check.code !== 0) throw new Error(`haproxy -c failed: ${(check.stderr + check.stdout).trim()}`);
        const proc = startProc('haproxy', tools.haproxy, ['-db', '-f', file, '-p', path.join(dir, 'haproxy.pid')], { cpus: opts.proxyCpu, logFile: path.join(dir, 'stdout.log') });
        startedProcs.set('haproxy', proc);
        await waitForPort(haproxyPort, proc, 10_000);
        return { proc, port: haproxyPort };
      },
      palisade: async () => {
        const dir = path.join(tmp, 'palisade');
        mkdirSync(path.join(dir, 'run'), { recursive: true });
        const file = path.join(dir, 'cluster.yaml');
        writeFileSync(file, palisadeYaml(palisadePort, originPort, path.join(dir, 'run'), opts.forwarded));
        let cmd = opts.palisadeCmd;
        if (cmd === undefined) {
          const cli = path.join(ROOT, 'src/cli/main.ts');
          if (!existsSync(cli)) throw new Error(`${path.relative(ROOT, cli)} does not exist (yet)`);
          cmd = `${shq(nodeBin)} ${shq(cli)} run`;
        }
        if (!cmd.includes('{config}') && !cmd.includes('{port}')) cmd += ' -c {config}';
        cmd = cmd.replaceAll('{config}', shq(file)).replaceAll('{port}', String(palisadePort)).replaceAll('{origin}', `127.0.0.1:${originPort}`);
        log(`palisade: ${cmd}`);
        const proc = startProc('palisade', '/bin/sh', ['-c', `exec ${cmd}`], { cpus: opts.proxyCpu, logFile: path.join(dir, 'stdout.log'), cwd: ROOT });
        startedProcs.set('palisade', proc);
        await waitForPort(palisadePort, proc, 30_000);
        return { proc, port: palisadePort };
      },
    };
    for (const target of opts.targets) {
      const start = starters[target];
      if (!start) continue;
      try {
        const r = await start();
        servers.set(target, r);
        log(`${target} pid ${r.proc.pid} on 127.0.0.1:${r.port}`);
      } catch (err) {
        const proc = startedProcs.get(target);
        const tail = proc ? logTail(proc, 12) : '';
        // The table shows the message and the last line of output; the JSON file all of it.
        const last = tail.split('\n').at(-1) ?? '';
        status[target] = { ok: false, error: `failed to start: ${(err as Error).message}${last ? ` — ${last}` : ''}`, ...(tail ? { log: tail } : {}) };
        log(`${target} FAILED to start: ${(err as Error).message}${tail ? `\n${tail}` : ''}`);
      }
    }

    // Each target must return the origin's bodies before it is measured.
    for (const [target, srv] of servers) {
      try {
        for (const w of opts.workloads) {
          const got = await fetchBody(srv.port, PATHS[w]);
          if (got.status !== 200) throw new Error(`GET ${PATHS[w]} answered ${got.status}`);
          if (!got.body.equals(expected[w])) throw new Error(`GET ${PATHS[w]} returned ${got.body.length} bytes that differ from the origin's ${expected[w].length}`);
        }
        status[target] = { ok: true, pid: srv.proc.pid };
      } catch (err) {
        status[target] = { ok: false, error: `body check failed: ${(err as Error).message}`, pid: srv.proc.pid };
        log(`${target}: body check FAILED: ${(err as Error).message}`);
        servers.delete(target);
      }
    }
    if (!servers.has('direct') && opts.targets.includes('direct')) throw new Error('the origin does not answer correctly');

    let wrkSeq = 0;
    const runWrk = async (target: Target, workload: Workload, seconds: number): Promise<{ wrk: WrkResult | undefined; error?: string; serverCpuSec: number; originCpuSec: number; cpuBusy: Record<string, number>; otherOnProxyCpu: number | undefined; wallSec: number }> => {
      const srv = servers.get(target)!;
      const url = `http://127.0.0.1:${srv.port}${PATHS[workload]}`;
      const logFile = path.join(tmp, `wrk-${++wrkSeq}-${target}-${workload}.log`);
      const cpu0 = groupCpuTicks(srv.proc.pid);
      const orig0 = groupCpuTicks(origin.pid);
      const times0 = cpuTimes();
      const t0 = process.hrtime.bigint();
      const p = startProc('wrk', tools.wrk, ['-t', String(opts.threads), '-c', String(opts.connections), '-d', `${seconds}s`, '--latency', url], { cpus: opts.loadCpu, logFile });
      await p.exited;
      const wallSec = Number(process.hrtime.bigint() - t0) / 1e9;
      const serverCpuSec = (groupCpuTicks(srv.proc.pid) - cpu0) / clkTck;
      const originCpuSec = (groupCpuTicks(origin.pid) - orig0) / clkTck;
      const times1 = cpuTimes();
      const cpuBusy: Record<string, number> = {};
      for (const [cpu, t] of times1) {
        const before = times0.get(cpu);
        if (before && t.total > before.total) cpuBusy[cpu] = (t.busy - before.busy) / (t.total - before.total);
      }
      const out = readFileSync(logFile, 'utf8');
      let otherOnProxyCpu: number | undefined;
      const busy = /^[0-9]+$/.test(opts.proxyCpu) ? cpuBusy[`cpu${opts.proxyCpu}`] : undefined;
      if (busy !== undefined && wallSec > 0) {
        // What the measured processes themselves ran on the proxy cpu (processes pinned there).
        let own = target === 'direct' ? 0 : serverCpuSec / wallSec;
        if (opts.originCpu === opts.proxyCpu) own += originCpuSec / wallSec;
        otherOnProxyCpu = Math.max(0, busy - own);
      }
      const base = { serverCpuSec, originCpuSec, cpuBusy, otherOnProxyCpu, wallSec };
      if (p.exit?.code !== 0) return { ...base, wrk: undefined, error: `wrk exited ${p.exit?.signal ?? p.exit?.code}: ${out.trim().split('\n').slice(-3).join(' | ')}` };
      if (srv.proc.exit !== undefined) return { ...base, wrk: undefined, error: `${target} exited during the run (${srv.proc.exit.signal ?? `code ${srv.proc.exit.code}`})` };
      try {
        return { ...base, wrk: parseWrk(out) };
      } catch (err) {
        return { ...base, wrk: undefined, error: (err as Error).message.split('\n')[0]! };
      }
    };

    const measured = opts.targets.filter((t) => servers.has(t));
    const warm = Math.round(opts.warmup);
    const dur = Math.max(1, Math.round(opts.duration));
    if (warm >= 1) {
      for (const workload of opts.workloads) {
        for (const target of measured) {
          if (servers.get(target)!.proc.exit !== undefined) continue;
          log(`warm-up ${target} ${workload} ${warm}s`);
          await runWrk(target, workload, warm);
          if (benchmarkStopping()) return 130;
        }
      }
    }
    for (let round = 1; round <= opts.rounds; round++) {
      for (const workload of opts.workloads) {
        for (const target of measured) {
          const srv = servers.get(target)!;
          if (srv.proc.exit !== undefined) {
            runs.push({ round, workload, target, wrk: undefined, error: `${target} is no longer running`, serverCpuSec: 0, originCpuSec: 0, cpuBusy: {}, otherOnProxyCpu: undefined, wallSec: 0 });
            continue;
          }
          await sleep(300);
          const r = await runWrk(target, workload, dur);
          if (benchmarkStopping()) return 130;
          runs.push({ round, workload, target, ...r });
          const w = r.wrk;
          log(
            w
              ? `round ${round}/${opts.rounds} ${workload} ${target}: ${Math.round(w.reqPerSec)} req/s, p99 ${(w.latencyUs.p99 / 1000).toFixed(2)} ms, ${(w.bytesPerSec / 2 ** 20).toFixed(1)} MiB/s, errors ${w.errors}, server CPU ${Math.round((100 * r.serverCpuSec) / r.wallSec)}%`
              : `round ${round}/${opts.rounds} ${workload} ${target}: FAILED ${r.error}`,
          );
        }
      }
    }
    for (const [target, srv] of servers) {
      if (srv.proc.exit !== undefined && status[target]?.ok) status[target] = { ok: false, error: `exited during the benchmark (${srv.proc.exit.signal ?? `code ${srv.proc.exit.code}`})`, log: logTail(srv.proc, 12), pid: srv.proc.pid };
    }

    const summaries = summarize(runs, opts.workloads, opts.targets, status);
    process.stdout.write(`\n${renderTable(summaries, opts.workloads, opts.proxyCpu)}`);
    process.stdout.write(
      'req/s: median over rounds (range: ± half the spread min..max); p50/p99: medians of wrk\'s latency distribution; MiB/s: wrk Transfer/sec (headers included);\n' +
        'errors: non-2xx + socket errors, summed; ÷nginx: ratio to the nginx proxy; CPU µs/req and server CPU: the proxy\'s process group (the origin\'s for direct); cpuN busy: whole machine, from /proc/stat;\n' +
        `other on cpu${opts.proxyCpu}: that cpu's busy share less the measured server's own (others' processes, unattributed kernel work).\n`,
    );

    const stamp = started.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
    const outFile = opts.out ? path.resolve(opts.out) : path.join(ROOT, 'bench/results', `http-${stamp}.json`);
    mkdirSync(path.dirname(outFile), { recursive: true });
    const json = {
      benchmark: 'http',
      started: started.toISOString(),
      finished: new Date().toISOString(),
      versions: vers,
      cores,
      layout,
      options: { ...opts, help: undefined },
      urls: PATHS,
      bodyBytes: { small: expected.small.length, '64k': expected['64k'].length },
      targets: status,
      summary: summaries,
      runs,
    };
    writeFileSync(outFile, `${JSON.stringify(json, null, 2)}\n`);
    process.stdout.write(`\nresults: ${path.relative(process.cwd(), outFile) || outFile}\n`);
    return 0;
  } finally {
    await stopAll();
  }
}

runBenchmark(main, log);
