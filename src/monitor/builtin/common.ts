/**
 * Shared pieces of the built-in checks: the context they run in, building a
 * CheckResult, worst-of states, number formatting as the plugins print it.
 */
import { CODE_BY_STATE } from '../result.ts';
import type { CheckResult, CheckState, PerfDatum } from '../result.ts';

/** What a built-in check gets besides its options. */
export interface CheckContext {
  /** Wall clock for `startedAt`, ms since the epoch. */
  now: () => number;
  /** Aborted when the check's timeout passes (or the monitor stops). */
  signal: AbortSignal;
}

/** What the pure part of a check decides. */
export interface Verdict {
  state: CheckState;
  summary: string;
  longOutput?: string;
  perfdata: PerfDatum[];
}

const RANK: Readonly<Record<CheckState, number>> = { OK: 0, UNKNOWN: 1, WARNING: 2, CRITICAL: 3 };

/** The worst of some states (CRITICAL > WARNING > UNKNOWN > OK, as Nagios ranks them for a summary). */
export function worst(...states: CheckState[]): CheckState {
  let w: CheckState = 'OK';
  for (const s of states) if (RANK[s] > RANK[w]) w = s;
  return w;
}

export function toResult(v: Verdict, startedAt: number, t0: number): CheckResult {
  return {
    state: v.state,
    code: CODE_BY_STATE[v.state],
    summary: v.summary,
    longOutput: v.longOutput ?? '',
    perfdata: v.perfdata,
    startedAt,
    durationMs: performance.now() - t0,
  };
}

/** A value with `digits` decimals, as C's `%.Nf` prints it. */
export function fixed(n: number, digits: number): string {
  return n.toFixed(digits);
}

/** The message of an unknown thrown value. */
export function errorText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    return code && !e.message.includes(code) ? `${code}: ${e.message}` : e.message;
  }
  return String(e);
}

/** Reads /proc/meminfo-style text into kB numbers by key. */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([\w()]+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}
