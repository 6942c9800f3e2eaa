/**
 * Scheduler micro-benchmark: nanoseconds per pick for every algorithm with 3, 30 and
 * 300 backends (weights 1-5, active counts 0-40 set), and the time to rebuild the
 * Maglev table and the ketama ring.
 *
 *   node bench/schedulers.ts [--ms 150]      (measuring time per cell, ms)
 *
 * Contexts cycle over 1024 clients / destinations / keys, so hashing and locality
 * caches see both hits and misses. Target: no pick slower than a few µs at 300.
 * The last column counts young-generation GCs during 1M picks at 30 backends: 0 means
 * the pick allocates nothing (a few bytes per pick would show as several).
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { setImmediate as tick } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { makeBackends, makeContexts, seededRandom } from '../src/balancer/conformance.ts';
import { buildKetamaRing } from '../src/balancer/hash.ts';
import { createScheduler } from '../src/balancer/index.ts';
import { buildMaglevTable } from '../src/balancer/mh.ts';
import type { Backend, PickContext, Scheduler } from '../src/balancer/types.ts';
import { SCHEDULER_NAMES, schedulerSchema } from '../src/config/scheduler-schema.ts';

const { values } = parseArgs({ options: { ms: { type: 'string', default: '150' } } });
const BUDGET_MS = Number(values.ms);
const SIZES = [3, 30, 300] as const;
const SLOW_NS = 3000;

const CONFIGS: [string, Record<string, unknown>][] = [
  ...SCHEDULER_NAMES.map((name): [string, Record<string, unknown>] => [name, name === 'hash' ? { name, key: '$request_uri' } : { name }]),
  ['hash consistent', { name: 'hash', key: '$request_uri', consistent: true }],
  ['hash consistent bf=125', { name: 'hash', key: '$request_uri', consistent: true, hash_balance_factor: 125 }],
  ['sh sh_fallback', { name: 'sh', sh_fallback: true }],
  ['mh mh_fallback', { name: 'mh', mh_fallback: true }],
];

function backends(n: number): Backend[] {
  const r = seededRandom(n);
  const bs = makeBackends(Array.from({ length: n }, () => 1 + Math.floor(r() * 5)));
  for (const b of bs) {
    b.active = Math.floor(r() * 40);
    b.inactive = Math.floor(r() * 100);
  }
  return bs;
}

/** ns per pick: warm up, then as many rounds of 1024 picks as fit in the budget. */
function measure(s: Scheduler, ctxs: PickContext[]): number {
  let sink = 0;
  const round = (): void => {
    for (let k = 0; k < ctxs.length; k++) sink += s.pick(ctxs[k]!)?.index ?? -1;
  };
  const warmEnd = performance.now() + BUDGET_MS / 3;
  while (performance.now() < warmEnd) round();
  let picks = 0;
  const start = process.hrtime.bigint();
  const end = performance.now() + BUDGET_MS;
  while (performance.now() < end) {
    round();
    picks += ctxs.length;
  }
  const ns = Number(process.hrtime.bigint() - start) / picks;
  if (sink === Number.MIN_SAFE_INTEGER) console.log(sink); // keep the loop observable
  return ns;
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

const ctxs = makeContexts(1024, 42);
const rows: string[][] = [];
const gcRows: ReturnType<typeof schedulerSchema.parse>[] = [];
let slowest = { name: '', n: 0, ns: 0 };
for (const [title, raw] of CONFIGS) {
  const cfg = schedulerSchema.parse(raw);
  const row = [title];
  for (const n of SIZES) {
    const s = createScheduler(cfg, backends(n), { random: seededRandom(7) });
    const ns = measure(s, ctxs);
    if (ns > slowest.ns) slowest = { name: title, n, ns };
    row.push(`${ns.toFixed(0)}${ns > SLOW_NS ? ' !' : ''}`);
  }
  rows.push(row);
  gcRows.push(cfg);
}

// Young-generation GCs while picking 1M times over 30 backends.
let minorGcs = 0;
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === 1) minorGcs++; // NODE_PERFORMANCE_GC_MINOR
});
obs.observe({ entryTypes: ['gc'] });
for (let r = 0; r < rows.length; r++) {
  const s = createScheduler(gcRows[r]!, backends(30), { random: seededRandom(7) });
  for (let k = 0; k < 20_000; k++) s.pick(ctxs[k & 1023]!);
  await tick();
  await tick();
  minorGcs = 0;
  for (let k = 0; k < 1_000_000; k++) s.pick(ctxs[k & 1023]!);
  await tick();
  await tick();
  rows[r]!.push(String(minorGcs));
}
obs.disconnect();

const w0 = Math.max(9, ...rows.map((r) => r[0]!.length));
console.log(`\nns per pick (one run, ${BUDGET_MS} ms per cell; "!" = over ${SLOW_NS} ns)\n`);
console.log(`| ${pad('algorithm', w0)} | ${SIZES.map((n) => pad(`${n} backends`, 12, true)).join(' | ')} | GCs / 1M picks |`);
console.log(`|${'-'.repeat(w0 + 2)}|${SIZES.map(() => '-'.repeat(13) + ':').join('|')}|---------------:|`);
for (const r of rows) console.log(`| ${pad(r[0]!, w0)} | ${r.slice(1, 4).map((c) => pad(c, 12, true)).join(' | ')} | ${pad(r[4]!, 14, true)} |`);
console.log(`\nslowest: ${slowest.name} with ${slowest.n} backends, ${slowest.ns.toFixed(0)} ns per pick`);

// Table rebuilds: the Maglev table (on down/up) and the ketama ring (at creation).
function time(fn: () => void): number {
  fn();
  const reps = 5;
  const t = performance.now();
  for (let k = 0; k < reps; k++) fn();
  return (performance.now() - t) / reps;
}
console.log('\ntable builds, ms (mean of 5)\n');
console.log(`| ${pad('table', 22)} | ${SIZES.map((n) => pad(`${n} backends`, 12, true)).join(' | ')} |`);
console.log(`|${'-'.repeat(24)}|${SIZES.map(() => '-'.repeat(13) + ':').join('|')}|`);
for (const size of [65537, 251]) {
  const cells = SIZES.map((n) => {
    const bs = backends(n);
    return time(() => buildMaglevTable(
      bs.map((b) => b.id),
      bs.map((b) => b.weight),
      size,
    )).toFixed(2);
  });
  console.log(`| ${pad(`Maglev M=${size}`, 22)} | ${cells.map((c) => pad(c, 12, true)).join(' | ')} |`);
}
{
  const cells = SIZES.map((n) => {
    const bs = backends(n);
    return time(() => buildKetamaRing(bs)).toFixed(2);
  });
  console.log(`| ${pad('ketama ring (160/w)', 22)} | ${cells.map((c) => pad(c, 12, true)).join(' | ')} |`);
}
{
  // What the proxy sees: down() then the next pick rebuilds lazily.
  const cells = SIZES.map((n) => {
    const bs = backends(n);
    const s = createScheduler(schedulerSchema.parse('mh'), bs);
    s.pick(ctxs[0]!);
    let k = 0;
    return time(() => {
      s.down(bs[k % n]!);
      s.pick(ctxs[0]!);
      s.up(bs[k++ % n]!);
    }).toFixed(2);
  });
  console.log(`| ${pad('mh down+pick+up (2×)', 22)} | ${cells.map((c) => pad(c, 12, true)).join(' | ')} |`);
}
