/**
 * Schema pieces for units in the cluster file, shared by every schema module:
 * durations (`500ms`, `5s`, `2m`; a bare number is seconds) come out in
 * milliseconds, sizes (`512`, `16k`, `1m`, binary) in bytes.
 */
import { z } from 'zod';
import { parseDuration, parseSize } from '../core/units.ts';

const DURATION = 'expected a duration such as 500ms, 5s or 2m';
const SIZE = 'expected a size such as 512, 16k or 1m';

/** A duration without a default (absence stays visible); milliseconds after parsing. */
export function durationValue() {
  return z.union([z.string(), z.number()], { error: DURATION }).transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `${DURATION}, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return ms;
  });
}

/** A duration with a default in milliseconds. */
export function duration(defaultMs: number) {
  return durationValue().default(defaultMs);
}

/** A duration of at least `minMs` milliseconds, without a default. */
export function durationAtLeast(minMs: number) {
  return durationValue().refine((ms) => ms >= minMs, `expected a duration of at least ${minMs}ms`);
}

/** A size without a default; bytes after parsing. */
export function sizeValue() {
  return z.union([z.string(), z.number()], { error: SIZE }).transform((v, ctx) => {
    const n = parseSize(v);
    if (n === undefined) {
      ctx.addIssue({ code: 'custom', message: `${SIZE}, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return n;
  });
}

/** A size with a default in bytes. */
export function size(defaultBytes: number) {
  return sizeValue().default(defaultBytes);
}

/** A regular expression (JavaScript syntax) given as a string; refused unless it compiles. */
export function regexString() {
  return z.string().refine((s) => {
    try {
      return new RegExp(s) instanceof RegExp;
    } catch {
      return false;
    }
  }, 'expected a valid regular expression');
}
