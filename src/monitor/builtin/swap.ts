/**
 * `swap`: free swap against "free below" thresholds, from /proc/meminfo (read
 * asynchronously). check_swap's output and perfdata: `swap` = free bytes, warn /
 * crit as free bytes, min 0, max the total.
 */
import { readFile } from 'node:fs/promises';
import type { BuiltinOptions } from '../../config/check-schema.ts';
import { errorText, parseMeminfo, toResult, worst } from './common.ts';
import type { CheckContext, Verdict } from './common.ts';
import { freeBelow, freeBytes } from './free.ts';

type SwapOptions = BuiltinOptions<'swap'>;

const MiB = 1024 * 1024;

/** Pure: the verdict for a swap total and free amount, in bytes. */
export function decideSwap(opts: SwapOptions, total: number, free: number): Verdict {
  if (total <= 0) {
    return {
      state: opts.no_swap,
      summary: `SWAP ${opts.no_swap} - 0% free (0MB out of 0MB) - Swap is either disabled, not present, or of zero size.`,
      perfdata: [{ label: 'swap', value: 0, uom: 'B', warn: '0', crit: '0', min: 0, max: 0 }],
    };
  }
  const state = freeBelow(opts.critical, free, total) ? 'CRITICAL' : freeBelow(opts.warning, free, total) ? 'WARNING' : 'OK';
  const pct = Math.floor((free / total) * 100);
  return {
    state: worst(state),
    summary: `SWAP ${state} - ${pct}% free (${Math.floor(free / MiB)}MB out of ${Math.floor(total / MiB)}MB)`,
    perfdata: [{ label: 'swap', value: free, uom: 'B', warn: String(freeBytes(opts.warning, total)), crit: String(freeBytes(opts.critical, total)), min: 0, max: total }],
  };
}

export async function runSwap(opts: SwapOptions, ctx: CheckContext, meminfo = '/proc/meminfo') {
  const startedAt = ctx.now();
  const t0 = performance.now();
  try {
    const m = parseMeminfo(await readFile(meminfo, { encoding: 'utf8', signal: ctx.signal }));
    const total = m.get('SwapTotal');
    const free = m.get('SwapFree');
    if (total === undefined || free === undefined) return toResult({ state: 'UNKNOWN', summary: `SWAP UNKNOWN - no SwapTotal/SwapFree in ${meminfo}`, perfdata: [] }, startedAt, t0);
    return toResult(decideSwap(opts, total * 1024, free * 1024), startedAt, t0);
  } catch (e) {
    return toResult({ state: 'UNKNOWN', summary: `SWAP UNKNOWN - cannot read ${meminfo}: ${errorText(e)}`, perfdata: [] }, startedAt, t0);
  }
}
