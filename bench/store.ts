/**
 * Monitoring history store: bytes per metric-year and write throughput.
 *
 *   node_modules/.bin/node bench/store.ts                 # 20 metrics, 370 days of 1-minute results (every tier full)
 *   node_modules/.bin/node bench/store.ts --metrics 5 --days 30
 *
 * 1. A year (`--days`) of 1-minute results is simulated as fast as SQLite takes it:
 *    `--checks` checks with `--perf` perfdata values each (metrics = checks × perf),
 *    values that vary (a random walk, so that min / avg / max differ), flushed once
 *    per simulated 10 minutes, pruned once per simulated day with the default
 *    retention. At the end: bytes in use (pages not on the free list) and file size,
 *    per metric. The comparison is pnp4nagios' RRD with its default RRAs:
 *    (2880 + 2880 + 4320 + 5840) rows × 3 consolidation functions × 8 bytes ≈ 382 KB
 *    per data source.
 * 2. Write throughput: batches of `--batch` results (5 perfdata each) flushed in one
 *    transaction; results/s, samples/s and the time one flush blocks the event loop.
 *
 * Timing figures depend on the machine (2 shared cores here); run it alone.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { HistoryStore } from '../src/store/history.ts';
import type { CheckResult } from '../src/monitor/result.ts';

const { values: a } = parseArgs({
  options: {
    checks: { type: 'string', default: '4' },
    perf: { type: 'string', default: '5' },
    days: { type: 'string', default: '370' },
    batch: { type: 'string', default: '1000' },
    batches: { type: 'string', default: '50' },
    help: { type: 'boolean', default: false },
  },
});
if (a.help) {
  console.log('node bench/store.ts [--checks 4] [--perf 5] [--days 370] [--batch 1000] [--batches 50]');
  process.exit(0);
}
const CHECKS = Number(a.checks);
const PERF = Number(a.perf);
const DAYS = Number(a.days);
const METRICS = CHECKS * PERF;
const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 1);

const dir = mkdtempSync(join(tmpdir(), 'palisade-bench-store-'));
try {
  // ---- 1. a year of 1-minute results
  const clock = { t: T0 };
  const store = new HistoryStore({ path: join(dir, 'year.db'), flushInterval: 0, now: () => clock.t });
  const walk = new Float64Array(METRICS).map((_, i) => 10 + i);
  let seed = 42;
  const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const started = performance.now();
  let flushMs = 0;
  let flushes = 0;
  for (let day = 0; day < DAYS; day++) {
    for (let min = 0; min < 1440; min++) {
      clock.t = T0 + day * DAY + min * 60_000;
      for (let c = 0; c < CHECKS; c++) {
        const perfdata = [];
        for (let p = 0; p < PERF; p++) {
          const i = c * PERF + p;
          walk[i] = Math.max(0, walk[i]! + (rnd() - 0.5) * 2);
          perfdata.push({ label: `m${p}`, value: Math.round(walk[i]! * 1000) / 1000, uom: p === 0 ? '%' : 'ms', warn: '80', crit: '90', min: 0 });
        }
        const r: CheckResult = { state: 'OK', code: 0, summary: 'OK - simulated', longOutput: '', perfdata, startedAt: clock.t, durationMs: 12 };
        store.record(`host${c}/svc`, r);
      }
      if (min % 10 === 9) {
        const f0 = performance.now();
        store.flush();
        flushMs += performance.now() - f0;
        flushes++;
      }
    }
    store.prune(clock.t);
  }
  store.flush();
  store.prune(clock.t);
  const simSeconds = (performance.now() - started) / 1000;
  const size = store.size();
  const rows = (t: string) => Number((store.db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n);
  const counts = Object.fromEntries(['sample', 'r_1m', 'r_5m', 'r_1h', 'r_6h', 'result'].map((t) => [t, rows(t)]));
  store.close();
  const file = statSync(join(dir, 'year.db')).size;
  const samples = DAYS * 1440 * METRICS;
  console.log(`store: ${METRICS} metrics (${CHECKS} checks × ${PERF} perfdata), ${DAYS} days of 1-minute results = ${samples.toLocaleString('en')} samples in ${simSeconds.toFixed(1)} s`);
  console.log(`  rows at the end: ${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`  in use: ${(size.used / 1024).toFixed(0)} KiB (${(size.used / METRICS / 1024).toFixed(1)} KiB per metric, results of ${CHECKS} checks included); file ${(file / 1024).toFixed(0)} KiB (${(file / METRICS / 1024).toFixed(1)} KiB per metric)`);
  console.log(`  pnp4nagios RRD default: 382 KiB per data source → ratio ${(size.used / METRICS / (382 * 1024)).toFixed(2)} (in use), ${(file / METRICS / (382 * 1024)).toFixed(2)} (file)`);
  console.log(`  flush of 10 simulated minutes (${10 * CHECKS} results, ${10 * METRICS} samples): ${(flushMs / flushes).toFixed(2)} ms average`);

  // ---- 2. write throughput
  const tp = new HistoryStore({ path: join(dir, 'tp.db'), flushInterval: 0 });
  const BATCH = Number(a.batch);
  const BATCHES = Number(a.batches);
  let worst = 0;
  const t1 = performance.now();
  let at = Date.now();
  for (let b = 0; b < BATCHES; b++) {
    for (let i = 0; i < BATCH; i++) {
      at += 60;
      tp.record(`h${i % 200}/s${i % 7}`, { state: 'OK', code: 0, summary: 'OK', longOutput: '', perfdata: [0, 1, 2, 3, 4].map((k) => ({ label: `v${k}`, value: (i * (k + 1)) % 97, uom: '' })), startedAt: at, durationMs: 1 });
    }
    const f0 = performance.now();
    tp.flush();
    worst = Math.max(worst, performance.now() - f0);
  }
  const secs = (performance.now() - t1) / 1000;
  tp.close();
  const n = BATCH * BATCHES;
  console.log(`write throughput: ${n.toLocaleString('en')} results (5 perfdata each) in ${secs.toFixed(2)} s = ${Math.round(n / secs).toLocaleString('en')} results/s, ${Math.round((n * 5) / secs).toLocaleString('en')} samples/s; one flush of ${BATCH} results blocks ${((secs * 1000) / BATCHES).toFixed(1)} ms on average, ${worst.toFixed(1)} ms at worst`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
