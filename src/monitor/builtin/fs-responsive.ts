/**
 * `fs_responsive`: does a mount answer `stat` within a time limit? The hung-NFS
 * case: a stat(2) on a dead hard-mounted NFS server blocks in the kernel, so it is
 * run in a child process (coreutils `stat`, argument array) that is killed at the
 * limit; the check answers CRITICAL at the limit even while the child is still stuck
 * in uninterruptible sleep (the runner stops waiting for it). Never blocks the
 * daemon, never ties up a libuv thread-pool thread.
 *
 * Output: `FS OK - /srv answered stat in 0.003 seconds |time=0.003000s;[warn];;0;<timeout>`.
 */
import type { BuiltinOptions } from '../../config/check-schema.ts';
import type { PerfDatum } from '../result.ts';
import { runPlugin } from '../plugin/runner.ts';
import type { CheckResult } from '../result.ts';
import { toResult } from './common.ts';
import type { CheckContext, Verdict } from './common.ts';

type FsOptions = BuiltinOptions<'fs_responsive'>;

/** The program that does the stat; replaceable for tests. */
export const STAT_BINARY = '/usr/bin/stat';

/** Pure: the verdict for how the stat child ended. */
export function decideFs(opts: FsOptions, r: Pick<CheckResult, 'state' | 'summary' | 'durationMs'>, timedOut: boolean): Verdict {
  const seconds = r.durationMs / 1000;
  const perf: PerfDatum = { label: 'time', value: Number(seconds.toFixed(6)), uom: 's', min: 0, max: opts.timeout / 1000 };
  if (opts.warning !== undefined) perf.warn = (opts.warning / 1000).toFixed(6);
  if (timedOut) return { state: 'CRITICAL', summary: `FS CRITICAL - ${opts.path} did not answer stat within ${opts.timeout / 1000} seconds (hung mount?)`, perfdata: [perf] };
  if (r.state !== 'OK') return { state: 'CRITICAL', summary: `FS CRITICAL - stat ${opts.path} failed: ${r.summary}`, perfdata: [perf] };
  const state = opts.warning !== undefined && r.durationMs > opts.warning ? 'WARNING' : 'OK';
  return { state, summary: `FS ${state} - ${opts.path} answered stat in ${seconds.toFixed(3)} seconds`, perfdata: [perf] };
}

export async function runFsResponsive(opts: FsOptions, ctx: CheckContext, statBinary = STAT_BINARY) {
  const startedAt = ctx.now();
  const t0 = performance.now();
  // `stat -c %i`: one stat(2) of the path (following a symlink to the mount point), prints the inode.
  const r = await runPlugin({ argv: [statBinary, '-L', '-c', '%i', '--', opts.path], timeoutMs: opts.timeout, signal: ctx.signal, maxOutput: 4096, now: ctx.now });
  const timedOut = r.state === 'UNKNOWN' && r.summary.startsWith('plugin timed out');
  // exit 1 from stat is "cannot stat": the runner maps it to WARNING; here any failure is CRITICAL.
  const failed = r.code !== 0 ? { ...r, state: 'CRITICAL' as const } : r;
  return toResult(decideFs(opts, failed, timedOut), startedAt, t0);
}
