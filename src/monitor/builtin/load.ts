/**
 * `load`: the 1, 5 and 15 minute load averages against three warning and three
 * critical ranges, optionally divided by the number of CPUs: check_load's output and
 * perfdata (`load1`, `load5`, `load15`; `scaled_load*` with `per_cpu`).
 */
import { availableParallelism, loadavg } from 'node:os';
import type { BuiltinOptions } from '../../config/check-schema.ts';
import { parseNagiosRange, thresholdState } from '../../core/nagios-range.ts';
import type { NagiosRange } from '../../core/nagios-range.ts';
import type { PerfDatum } from '../result.ts';
import { fixed, toResult, worst } from './common.ts';
import type { CheckContext, Verdict } from './common.ts';

type LoadOptions = BuiltinOptions<'load'>;

const MINUTES = [1, 5, 15] as const;

function ranges(texts: readonly string[]): NagiosRange[] {
  return texts.map((t) => parseNagiosRange(t) as NagiosRange);
}

/** Pure: the verdict for three load averages on `cpus` CPUs. */
export function decideLoad(opts: LoadOptions, load: readonly number[], cpus: number): Verdict {
  const warn = ranges(opts.warning);
  const crit = ranges(opts.critical);
  const scaled = opts.per_cpu ? load.map((l) => l / Math.max(1, cpus)) : load;
  const states = scaled.map((v, i) => thresholdState(v, warn[i], crit[i]));
  const state = worst(...states);
  const total = `total load average: ${load.map((l) => fixed(l, 2)).join(', ')}`;
  const summary = opts.per_cpu ? `LOAD ${state} - scaled load average: ${scaled.map((l) => fixed(l, 2)).join(', ')} - ${total}` : `LOAD ${state} - ${total}`;
  const perfdata: PerfDatum[] = [];
  for (let i = 0; i < 3; i++) {
    const label = `load${MINUTES[i]}`;
    if (opts.per_cpu) {
      perfdata.push({ label, value: load[i]!, uom: '', min: 0 });
      perfdata.push({ label: `scaled_${label}`, value: round(scaled[i]!, 3), uom: '', warn: opts.warning[i], crit: opts.critical[i], min: 0 });
    } else perfdata.push({ label, value: load[i]!, uom: '', warn: opts.warning[i], crit: opts.critical[i], min: 0 });
  }
  return { state, summary, perfdata };
}

function round(n: number, d: number): number {
  const f = 10 ** d;
  return Math.round(n * f) / f;
}

export function runLoad(opts: LoadOptions, ctx: CheckContext) {
  const startedAt = ctx.now();
  const t0 = performance.now();
  // uv_loadavg is sysinfo(2): no file I/O, cannot block.
  return Promise.resolve(toResult(decideLoad(opts, loadavg(), availableParallelism()), startedAt, t0));
}
