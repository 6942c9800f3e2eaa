/**
 * Nagios plugin output, parsed as the plugin API defines it (Nagios Core "Plugin API",
 * monitoring-plugins guidelines "Plugin Output" and "Performance data"). Pure.
 *
 * ```
 * TEXT OUTPUT | OPTIONAL PERFDATA          ← line 1: summary | perfdata
 * LONG TEXT LINE 1                         ← long output
 * LONG TEXT LINE 2 | PERFDATA LINE 2       ← the first later line with `|` ends the
 * PERFDATA LINE 3                             long output; everything after is perfdata
 * ```
 *
 * monitoring-plugins 3.0's multi-line style (`[OK] - ...`, `\_[WARNING] - ...`
 * sub-checks, perfdata alone on a last line starting with `|`, ranges like `~:15`)
 * is the same grammar.
 */
import { CODE_BY_STATE, STATE_BY_CODE } from '../result.ts';
import type { CheckCode, CheckResult, CheckState, PerfDatum } from '../result.ts';

/** How a plugin process ended, as the runner saw it. */
export interface PluginExit {
  /** Exit code, or null when it ended by a signal. */
  code: number | null;
  /** The signal that ended it, if any (`SIGKILL`...). */
  signal?: string | null;
  /** It ran past its timeout and was killed. */
  timedOut?: boolean;
  /** Its timeout in ms (for the message). */
  timeoutMs?: number;
  /** It could not be started (ENOENT, EACCES...): the reason. */
  spawnError?: string;
  /** Output bytes dropped past the cap (0 or absent: none). */
  truncatedBytes?: number;
}

/** Output and perfdata of one plugin run, before the exit status is applied. */
export interface ParsedOutput {
  summary: string;
  longOutput: string;
  perfdata: PerfDatum[];
  /** Perfdata items that could not be parsed, as printed (kept for diagnosis, never fatal). */
  badPerfdata: string[];
}

/** Splits plugin output into summary, long output and perfdata. Never throws. */
export function parseOutput(text: string): ParsedOutput {
  const lines = text.replace(/\r\n?/g, '\n').replace(/\n+$/, '').split('\n');
  const first = lines[0] ?? '';
  const perfTexts: string[] = [];
  let summary = first;
  const bar = first.indexOf('|');
  if (bar >= 0) {
    summary = first.slice(0, bar);
    perfTexts.push(first.slice(bar + 1));
  }
  const longLines: string[] = [];
  let inPerf = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (inPerf) {
      perfTexts.push(line);
      continue;
    }
    const b = line.indexOf('|');
    if (b >= 0) {
      const before = line.slice(0, b);
      if (before.trim() !== '') longLines.push(before.trimEnd());
      perfTexts.push(line.slice(b + 1));
      inPerf = true;
    } else longLines.push(line);
  }
  const perfdata: PerfDatum[] = [];
  const badPerfdata: string[] = [];
  for (const t of perfTexts) parsePerfdataInto(t, perfdata, badPerfdata);
  return { summary: summary.trim(), longOutput: longLines.join('\n').replace(/\s+$/, ''), perfdata, badPerfdata };
}

const VALUE = /^([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)([A-Za-z%]*)$/;
const NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;

/**
 * Parses a perfdata string: space-separated `'label'=value[UOM];[warn];[crit];[min];[max]`.
 * Labels may be quoted with `'` (spaces and `=` allowed inside; `''` is a quote).
 * Items that do not parse go to `bad`; the rest are kept.
 */
export function parsePerfdata(text: string): { perfdata: PerfDatum[]; bad: string[] } {
  const perfdata: PerfDatum[] = [];
  const bad: string[] = [];
  parsePerfdataInto(text, perfdata, bad);
  return { perfdata, bad };
}

function parsePerfdataInto(text: string, out: PerfDatum[], bad: string[]): void {
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && isSpace(text.charCodeAt(i))) i++;
    if (i >= n) break;
    const itemStart = i;
    let label: string;
    if (text[i] === "'") {
      // Quoted label: '' inside is one quote.
      let j = i + 1;
      let s = '';
      let closed = false;
      while (j < n) {
        if (text[j] === "'") {
          if (text[j + 1] === "'") {
            s += "'";
            j += 2;
            continue;
          }
          closed = true;
          j++;
          break;
        }
        s += text[j];
        j++;
      }
      if (!closed || text[j] !== '=') {
        // Skip to the next space: this item is garbage.
        i = skipItem(text, closed ? j : itemStart);
        bad.push(text.slice(itemStart, i));
        continue;
      }
      label = s;
      i = j + 1;
    } else {
      let j = i;
      while (j < n && text[j] !== '=' && !isSpace(text.charCodeAt(j))) j++;
      if (j >= n || text[j] !== '=' || j === i) {
        i = skipItem(text, j);
        bad.push(text.slice(itemStart, i));
        continue;
      }
      label = text.slice(i, j);
      i = j + 1;
    }
    const end = skipItem(text, i);
    const fields = text.slice(i, end).split(';');
    i = end;
    const m = VALUE.exec(fields[0] ?? '');
    if (!m) {
      bad.push(text.slice(itemStart, end));
      continue;
    }
    const d: PerfDatum = { label, value: Number(m[1]), uom: m[2]! };
    const warn = fields[1]?.trim();
    const crit = fields[2]?.trim();
    const min = fields[3]?.trim();
    const max = fields[4]?.trim();
    if (warn) d.warn = warn;
    if (crit) d.crit = crit;
    if (min && NUMBER.test(min)) d.min = Number(min);
    if (max && NUMBER.test(max)) d.max = Number(max);
    out.push(d);
  }
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

function skipItem(text: string, from: number): number {
  let i = from;
  while (i < text.length && !isSpace(text.charCodeAt(i))) i++;
  return i;
}

/** The state for a plugin's exit, with the reason when it is not a plain 0–3 exit. */
export function exitState(exit: PluginExit): { state: CheckState; code: CheckCode; reason?: string } {
  if (exit.spawnError !== undefined) return { state: 'UNKNOWN', code: 3, reason: `plugin could not be started: ${exit.spawnError}` };
  if (exit.timedOut) return { state: 'UNKNOWN', code: 3, reason: `plugin timed out after ${formatMs(exit.timeoutMs ?? 0)} and was killed` };
  if (exit.code === null) return { state: 'UNKNOWN', code: 3, reason: `plugin was killed by ${exit.signal ?? 'a signal'}` };
  if (exit.code >= 0 && exit.code <= 3) {
    const code = exit.code as CheckCode;
    return { state: STATE_BY_CODE[code]!, code };
  }
  return { state: 'UNKNOWN', code: CODE_BY_STATE.UNKNOWN, reason: `plugin exited with code ${exit.code} (not 0-3)` };
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * A CheckResult from a plugin's output and exit. A timeout, a signal, a bad exit code
 * or a start failure is UNKNOWN with the reason as the summary (the plugin's own
 * first line, if any, moves to the long output); a cap on the output is noted in the
 * long output.
 */
export function pluginResult(output: string, exit: PluginExit, startedAt: number, durationMs: number): CheckResult {
  const parsed = parseOutput(output);
  const { state, code, reason } = exitState(exit);
  let summary = parsed.summary;
  let longOutput = parsed.longOutput;
  if (reason !== undefined) {
    longOutput = [summary, longOutput].filter((s) => s !== '').join('\n');
    summary = reason;
  } else if (summary === '') summary = '(no output)';
  if (exit.truncatedBytes) longOutput = [longOutput, `(output capped: ${exit.truncatedBytes} more bytes dropped)`].filter((s) => s !== '').join('\n');
  return { state, code, summary, longOutput, perfdata: parsed.perfdata, startedAt, durationMs };
}
