/**
 * The monitor runtime's scheduler under load: how many checks per minute it
 * sustains and the CPU it uses doing so (the target: ≥ 10,000 built-in checks
 * per minute under a quarter of one core).
 *
 *   node_modules/.bin/node bench/monitor.ts [--checks 1000] [--interval 6] [--duration 30] [--concurrency 64]
 *
 * A MonitorRuntime (the one the daemon runs: state engine, history store in SQLite
 * with its batched writes, notification path) with `--checks` built-in `tcp` services
 * at `--interval` seconds against a loopback listener in a child process (its CPU is
 * not counted). After a warm-up of one interval, it counts results applied over
 * `--duration` seconds and this process's CPU (process.cpuUsage, user + system) over
 * the same wall time. Everything stays on 127.0.0.1 and is bounded in time.
 */
import { startClosingListener } from './lib/listener.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { MonitorRuntime } from '../src/app/monitor.ts';
import { monitorSchema } from '../src/config/monitor-schema.ts';
import { silentLogger } from '../src/core/logger.ts';

const { values } = parseArgs({
  options: {
    checks: { type: 'string', default: '1000' },
    interval: { type: 'string', default: '6' },
    duration: { type: 'string', default: '30' },
    concurrency: { type: 'string', default: '64' },
  },
});
const checks = Number(values.checks);
const intervalS = Number(values.interval);
const durationMs = Number(values.duration) * 1000;
const concurrency = Number(values.concurrency);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const listener = await startClosingListener();
const dir = await mkdtemp(join(tmpdir(), 'palisade-bench-monitor-'));
try {
  const services: Record<string, unknown> = {};
  for (let i = 0; i < checks; i++) services[`tcp${i}`] = { check: { builtin: 'tcp', port: listener.port, timeout: '2s' }, check_interval: `${intervalS}s` };
  const cfg = monitorSchema.parse({ hosts: { local: { address: '127.0.0.1', services } }, store: { path: join(dir, 'monitor.db') } });
  const rt = new MonitorRuntime(cfg, { log: silentLogger(), runtimeDir: dir, concurrency });
  rt.start();
  // Warm-up: the first round starts every check at once; measure the steady state after it.
  await sleep(intervalS * 1000 + 1000);
  const n0 = rt.checksRun;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(durationMs);
  const cpu = process.cpuUsage(c0);
  const wall = performance.now() - t0;
  const n = rt.checksRun - n0;
  const states: Record<string, number> = {};
  for (const s of rt.snapshot()) states[s.state] = (states[s.state] ?? 0) + 1;
  await rt.close();
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const perMin = (n * 60_000) / wall;
  console.log(`monitor scheduler: ${checks} tcp checks every ${intervalS} s (target ${Math.round((checks * 60) / intervalS)}/min), concurrency ${concurrency}, ${Math.round(wall / 1000)} s measured`);
  console.log(`  results applied: ${n} = ${Math.round(perMin)} per minute`);
  console.log(`  CPU: ${cpuMs.toFixed(0)} ms = ${((cpuMs / wall) * 100).toFixed(1)} % of one core (${((cpuMs * 1000) / Math.max(1, n)).toFixed(0)} µs per check, store and state engine included)`);
  console.log(`  states: ${JSON.stringify(states)}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
} finally {
  listener.stop();
  await rm(dir, { recursive: true, force: true });
}
