/**
 * `disk`: free space (and optionally free inodes) of one file system, from
 * statfs(2) (fs.promises.statfs: in the thread pool, not on the event loop).
 * check_disk's output and perfdata: `<path>=<used>B;<warn used>;<crit used>;0;<total>`,
 * summary `DISK OK - free space: / 80820MiB (77% inode=97%);`.
 *
 * As check_disk: "free" is what unprivileged users can use (f_bavail), and the free
 * percentage is of used + available (the root-reserved blocks are left out).
 */
import { statfs } from 'node:fs/promises';
import type { BuiltinOptions } from '../../config/check-schema.ts';
import { errorText, toResult, worst } from './common.ts';
import type { CheckContext, Verdict } from './common.ts';
import { freeBelow } from './free.ts';
import type { FreeThreshold } from '../../config/check-schema.ts';

type DiskOptions = BuiltinOptions<'disk'>;

/** The numbers statfs gives, as Node's StatFs has them. */
export interface FsStats {
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
}

const MiB = 1024 * 1024;

/** A free threshold as a "used above" value in bytes, for perfdata (check_disk prints thresholds on used space). */
function usedThreshold(th: FreeThreshold, total: number): number {
  return th.kind === 'percent' ? Math.floor((total * (100 - th.value)) / 100) : Math.max(0, total - th.value);
}

/** Pure: the verdict for one file system. */
export function decideDisk(opts: DiskOptions, s: FsStats): Verdict {
  const total = s.blocks * s.bsize;
  const used = (s.blocks - s.bfree) * s.bsize;
  const avail = s.bavail * s.bsize;
  const usable = used + avail;
  const inodesFreePct = s.files > 0 ? (s.ffree / s.files) * 100 : 100;
  const space = freeBelow(opts.critical, avail, usable) ? 'CRITICAL' : freeBelow(opts.warning, avail, usable) ? 'WARNING' : 'OK';
  const inodeState = (th: FreeThreshold | undefined) => (th === undefined ? false : th.kind === 'percent' ? inodesFreePct < th.value : s.ffree < th.value);
  const inodes = inodeState(opts.inode_critical) ? 'CRITICAL' : inodeState(opts.inode_warning) ? 'WARNING' : 'OK';
  const state = worst(space, inodes);
  // check_disk rounds the used percentage up, so 22.2% used shows as 77% free.
  const freePct = usable > 0 ? 100 - Math.ceil((used / usable) * 100) : 0;
  const inodePct = 100 - Math.ceil(100 - inodesFreePct);
  return {
    state,
    summary: `DISK ${state} - free space: ${opts.path} ${Math.floor(avail / MiB)}MiB (${freePct}% inode=${inodePct}%);`,
    perfdata: [{ label: opts.path, value: used, uom: 'B', warn: String(usedThreshold(opts.warning, total)), crit: String(usedThreshold(opts.critical, total)), min: 0, max: total }],
  };
}

export async function runDisk(opts: DiskOptions, ctx: CheckContext) {
  const startedAt = ctx.now();
  const t0 = performance.now();
  try {
    return toResult(decideDisk(opts, await statfs(opts.path)), startedAt, t0);
  } catch (e) {
    return toResult({ state: 'UNKNOWN', summary: `DISK UNKNOWN - cannot stat ${opts.path}: ${errorText(e)}`, perfdata: [] }, startedAt, t0);
  }
}
