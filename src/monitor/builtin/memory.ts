/**
 * `memory`: available memory (MemAvailable: what can be had without swapping)
 * against "free below" thresholds, from /proc/meminfo (read asynchronously). No
 * plugin twin in monitoring-plugins 2.3; shaped like check_swap: `available` in
 * bytes with warn / crit as bytes, min 0, max the total.
 */
import { readFile } from 'node:fs/promises';
import type { BuiltinOptions } from '../../config/check-schema.ts';
import { errorText, parseMeminfo, toResult } from './common.ts';
import type { CheckContext, Verdict } from './common.ts';
import { freeBelow, freeBytes } from './free.ts';

type MemoryOptions = BuiltinOptions<'memory'>;

const MiB = 1024 * 1024;

/** Pure: the verdict for a memory total and available amount, in bytes. */
export function decideMemory(opts: MemoryOptions, total: number, available: number): Verdict {
  const state = freeBelow(opts.critical, available, total) ? 'CRITICAL' : freeBelow(opts.warning, available, total) ? 'WARNING' : 'OK';
  const pct = total > 0 ? Math.floor((available / total) * 100) : 0;
  return {
    state,
    summary: `MEMORY ${state} - ${pct}% available (${Math.floor(available / MiB)}MB out of ${Math.floor(total / MiB)}MB)`,
    perfdata: [{ label: 'available', value: available, uom: 'B', warn: String(freeBytes(opts.warning, total)), crit: String(freeBytes(opts.critical, total)), min: 0, max: total }],
  };
}

export async function runMemory(opts: MemoryOptions, ctx: CheckContext, meminfo = '/proc/meminfo') {
  const startedAt = ctx.now();
  const t0 = performance.now();
  try {
    const m = parseMeminfo(await readFile(meminfo, { encoding: 'utf8', signal: ctx.signal }));
    const total = m.get('MemTotal');
    // Kernels before 3.14 have no MemAvailable: free + page cache is the old estimate.
    const available = m.get('MemAvailable') ?? (m.get('MemFree') ?? 0) + (m.get('Cached') ?? 0);
    if (total === undefined) return toResult({ state: 'UNKNOWN', summary: `MEMORY UNKNOWN - no MemTotal in ${meminfo}`, perfdata: [] }, startedAt, t0);
    return toResult(decideMemory(opts, total * 1024, available * 1024), startedAt, t0);
  } catch (e) {
    return toResult({ state: 'UNKNOWN', summary: `MEMORY UNKNOWN - cannot read ${meminfo}: ${errorText(e)}`, perfdata: [] }, startedAt, t0);
  }
}
