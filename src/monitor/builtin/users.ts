/**
 * `users`: counts logged-in sessions from utmp (read asynchronously) against
 * warning / critical ranges, and, with `allowed`, is CRITICAL naming anyone else
 * logged in (the seed's custom check). check_users's output and perfdata:
 * `USERS OK - 2 users currently logged in |users=2;5;10;0`.
 */
import { readFile } from 'node:fs/promises';
import type { BuiltinOptions } from '../../config/check-schema.ts';
import { parseNagiosRange, thresholdState } from '../../core/nagios-range.ts';
import type { NagiosRange } from '../../core/nagios-range.ts';
import type { CheckState } from '../result.ts';
import { errorText, toResult, worst } from './common.ts';
import type { CheckContext, Verdict } from './common.ts';

type UsersOptions = BuiltinOptions<'users'>;

/**
 * glibc's `struct utmp` on Linux (x86_64, aarch64, and 32-bit with 32-bit time):
 * 384 bytes; see utmp(5) and bits/utmp.h.
 */
export const UTMP_RECORD = 384;
const UT_TYPE = 0; // short, padded to 4
const UT_PID = 4; // int32
const UT_LINE = 8; // char[32]
const UT_USER = 44; // char[32]
const UT_HOST = 76; // char[256]
/** ut_type of a login session (utmp(5)). */
export const USER_PROCESS = 7;

export interface UtmpEntry {
  type: number;
  pid: number;
  line: string;
  user: string;
  host: string;
}

function cstr(buf: Buffer, off: number, len: number): string {
  const end = buf.indexOf(0, off);
  return buf.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}

/** Pure: the records of a utmp file (a trailing partial record is ignored). */
export function parseUtmp(buf: Buffer): UtmpEntry[] {
  const out: UtmpEntry[] = [];
  for (let off = 0; off + UTMP_RECORD <= buf.length; off += UTMP_RECORD) {
    out.push({
      type: buf.readInt16LE(off + UT_TYPE),
      pid: buf.readInt32LE(off + UT_PID),
      line: cstr(buf, off + UT_LINE, 32),
      user: cstr(buf, off + UT_USER, 32),
      host: cstr(buf, off + UT_HOST, 256),
    });
  }
  return out;
}

/** Pure: one utmp record (for tests and tools). */
export function encodeUtmp(e: UtmpEntry): Buffer {
  const b = Buffer.alloc(UTMP_RECORD);
  b.writeInt16LE(e.type, UT_TYPE);
  b.writeInt32LE(e.pid, UT_PID);
  b.write(e.line.slice(0, 32), UT_LINE, 'utf8');
  b.write(e.user.slice(0, 32), UT_USER, 'utf8');
  b.write(e.host.slice(0, 256), UT_HOST, 'utf8');
  return b;
}

/** Pure: the verdict for the entries of utmp. */
export function decideUsers(opts: UsersOptions, entries: readonly UtmpEntry[]): Verdict {
  const sessions = entries.filter((e) => e.type === USER_PROCESS && e.user !== '');
  const count = sessions.length;
  const warn = opts.warning === undefined ? undefined : (parseNagiosRange(opts.warning) as NagiosRange);
  const crit = opts.critical === undefined ? undefined : (parseNagiosRange(opts.critical) as NagiosRange);
  let state: CheckState = thresholdState(count, warn, crit);
  let extra = '';
  let longOutput = '';
  if (opts.allowed !== undefined) {
    const allowed = new Set(opts.allowed);
    const others = sessions.filter((s) => !allowed.has(s.user));
    if (others.length > 0) {
      state = worst(state, 'CRITICAL');
      extra = `, not allowed: ${[...new Set(others.map((s) => s.user))].toSorted().join(', ')}`;
      longOutput = others.map((s) => `${s.user} on ${s.line}${s.host ? ` from ${s.host}` : ''} (pid ${s.pid})`).join('\n');
    }
  }
  return {
    state,
    summary: `USERS ${state} - ${count} users currently logged in${extra}`,
    longOutput,
    perfdata: [{ label: 'users', value: count, uom: '', ...(opts.warning !== undefined && { warn: opts.warning }), ...(opts.critical !== undefined && { crit: opts.critical }), min: 0 }],
  };
}

export async function runUsers(opts: UsersOptions, ctx: CheckContext) {
  const startedAt = ctx.now();
  const t0 = performance.now();
  let buf: Buffer;
  try {
    buf = await readFile(opts.utmp, { signal: ctx.signal });
  } catch (e) {
    // No utmp at all (containers, minimal hosts): nobody is logged in, as check_users reports.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') buf = Buffer.alloc(0);
    else return toResult({ state: 'UNKNOWN', summary: `USERS UNKNOWN - cannot read ${opts.utmp}: ${errorText(e)}`, perfdata: [] }, startedAt, t0);
  }
  return toResult(decideUsers(opts, parseUtmp(buf)), startedAt, t0);
}
