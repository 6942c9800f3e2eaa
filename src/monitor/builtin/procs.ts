/**
 * `procs`: counts processes, optionally only those with a given name, command-line
 * substring, state letter (e.g. Z for zombies) or user, against warning / critical
 * ranges on the count. Reads /proc asynchronously (a bounded number of files at a
 * time). check_procs's output and perfdata (`procs=N;w;c;0;`).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import type { BuiltinOptions } from '../../config/check-schema.ts';
import { parseNagiosRange, thresholdState } from '../../core/nagios-range.ts';
import type { NagiosRange } from '../../core/nagios-range.ts';
import { errorText, toResult } from './common.ts';
import type { CheckContext, Verdict } from './common.ts';

type ProcsOptions = BuiltinOptions<'procs'>;

/** One process as /proc shows it. */
export interface ProcInfo {
  pid: number;
  /** /proc/PID/comm (as `ps -o comm`, at most 15 characters). */
  comm: string;
  /** The state letter from /proc/PID/stat (R S D Z T t X I). */
  state: string;
  uid?: number;
  /** The command line, arguments joined by spaces (only read when `args` is set). */
  args?: string;
}

/** How many /proc files are read at once. */
const CONCURRENCY = 32;

/** Pure: parses /proc/PID/stat's `pid (comm) S ...` (comm may hold spaces and parentheses). */
export function parseStat(text: string): { comm: string; state: string } | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const state = text.slice(close + 2, close + 3);
  return state ? { comm: text.slice(open + 1, close), state } : undefined;
}

/** Pure: does this process match the filters? */
export function procMatches(opts: ProcsOptions, p: ProcInfo, uid: number | undefined): boolean {
  if (opts.command !== undefined && p.comm !== opts.command) return false;
  if (opts.state !== undefined && !opts.state.includes(p.state)) return false;
  if (uid !== undefined && p.uid !== uid) return false;
  if (opts.args !== undefined && !(p.args ?? '').includes(opts.args)) return false;
  return true;
}

/** Pure: the filter description check_procs prints (`with STATE = Z, command name 'nginx'`). */
export function filterText(opts: ProcsOptions, uid: number | undefined): string {
  const parts: string[] = [];
  if (opts.state !== undefined) parts.push(`STATE = ${opts.state}`);
  if (uid !== undefined) parts.push(`UID = ${uid}${typeof opts.user === 'string' && !/^\d+$/.test(opts.user) ? ` (${opts.user})` : ''}`);
  if (opts.command !== undefined) parts.push(`command name '${opts.command}'`);
  if (opts.args !== undefined) parts.push(`args '${opts.args}'`);
  return parts.length ? ` with ${parts.join(', ')}` : '';
}

/** Pure: the verdict for a list of processes. */
export function decideProcs(opts: ProcsOptions, procs: readonly ProcInfo[], uid?: number): Verdict {
  let count = 0;
  for (const p of procs) if (procMatches(opts, p, uid)) count++;
  const warn = opts.warning === undefined ? undefined : (parseNagiosRange(opts.warning) as NagiosRange);
  const crit = opts.critical === undefined ? undefined : (parseNagiosRange(opts.critical) as NagiosRange);
  const state = thresholdState(count, warn, crit);
  return {
    state,
    summary: `PROCS ${state}: ${count} process${count === 1 ? '' : 'es'}${filterText(opts, uid)}`,
    perfdata: [{ label: 'procs', value: count, uom: '', ...(opts.warning !== undefined && { warn: opts.warning }), ...(opts.critical !== undefined && { crit: opts.critical }), min: 0 }],
  };
}

/** Resolves a user name to a uid from /etc/passwd (async). */
async function lookupUid(user: string | number, passwd: string): Promise<number | undefined> {
  if (typeof user === 'number') return user;
  if (/^\d+$/.test(user)) return Number(user);
  const text = await readFile(passwd, 'utf8');
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === user && f[2] !== undefined) return Number(f[2]);
  }
  return undefined;
}

/** Reads the processes in /proc (those that vanish meanwhile are skipped). */
export async function readProcs(needArgs: boolean, needUid: boolean, signal?: AbortSignal, proc = '/proc'): Promise<ProcInfo[]> {
  const names = (await readdir(proc)).filter((n) => /^\d+$/.test(n));
  const out: ProcInfo[] = [];
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      if (signal?.aborted) throw signal.reason;
      const name = names[next++]!;
      try {
        const s = parseStat(await readFile(`${proc}/${name}/stat`, 'utf8'));
        if (!s) continue;
        const p: ProcInfo = { pid: Number(name), comm: s.comm, state: s.state };
        if (needUid) p.uid = (await stat(`${proc}/${name}`)).uid;
        if (needArgs) p.args = (await readFile(`${proc}/${name}/cmdline`, 'utf8')).replace(/\0+$/, '').replaceAll('\0', ' ');
        out.push(p);
      } catch {
        // The process ended while we read it.
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, names.length) }, worker));
  return out;
}

export async function runProcs(opts: ProcsOptions, ctx: CheckContext, paths = { proc: '/proc', passwd: '/etc/passwd' }) {
  const startedAt = ctx.now();
  const t0 = performance.now();
  try {
    let uid: number | undefined;
    if (opts.user !== undefined) {
      uid = await lookupUid(opts.user, paths.passwd);
      if (uid === undefined) return toResult({ state: 'UNKNOWN', summary: `PROCS UNKNOWN: no such user '${opts.user}'`, perfdata: [] }, startedAt, t0);
    }
    const procs = await readProcs(opts.args !== undefined, uid !== undefined, ctx.signal, paths.proc);
    return toResult(decideProcs(opts, procs, uid), startedAt, t0);
  } catch (e) {
    return toResult({ state: 'UNKNOWN', summary: `PROCS UNKNOWN: cannot read ${paths.proc}: ${errorText(e)}`, perfdata: [] }, startedAt, t0);
  }
}
