/**
 * Threshold ranges exactly as the Nagios plugin development guidelines define them
 * (monitoring-plugins "Threshold and ranges", also used by every 2.x/3.0 plugin):
 *
 * | range     | alert when value is               |
 * | --------- | --------------------------------- |
 * | `10`      | < 0 or > 10 (outside 0..10)       |
 * | `10:`     | < 10 (outside 10..∞)              |
 * | `~:10`    | > 10 (outside -∞..10)             |
 * | `10:20`   | < 10 or > 20 (outside 10..20)     |
 * | `@10:20`  | ≥ 10 and ≤ 20 (inside 10..20)     |
 *
 * An empty start (`:10`) is 0, as in the plugins' `parse_range_string`. The
 * start must not be above the end. Pure: shared by the config schema (validation)
 * and the monitor's built-in checks (evaluation).
 */

export interface NagiosRange {
  /** Lower bound, inclusive; -Infinity for `~`. */
  readonly start: number;
  /** Upper bound, inclusive; Infinity when left out (`10:`). */
  readonly end: number;
  /** `@` prefix: alert when inside the range instead of outside. */
  readonly inside: boolean;
  /** The range as written (trimmed), for perfdata and messages. */
  readonly text: string;
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function num(s: string): number | undefined {
  return NUMBER.test(s) ? Number(s) : undefined;
}

/**
 * Parses one range. Returns the range, or a message saying what is wrong (for
 * config errors and UNKNOWN results).
 */
export function parseNagiosRange(input: string | number): NagiosRange | string {
  const text = String(input).trim();
  const bad = `expected a threshold range such as 10, 10:, ~:10, 10:20 or @10:20, got ${JSON.stringify(String(input))}`;
  if (text === '') return bad;
  let s = text;
  let inside = false;
  if (s.startsWith('@')) {
    inside = true;
    s = s.slice(1);
  }
  let start = 0;
  let end: number;
  const colon = s.indexOf(':');
  if (colon < 0) {
    const e = num(s);
    if (e === undefined) return bad;
    end = e;
  } else {
    const a = s.slice(0, colon);
    const b = s.slice(colon + 1);
    if (a === '~') start = -Infinity;
    else if (a !== '') {
      const v = num(a);
      if (v === undefined) return bad;
      start = v;
    }
    if (b === '') end = Infinity;
    else {
      const v = num(b);
      if (v === undefined) return bad;
      end = v;
    }
  }
  if (start > end) return `threshold range ${JSON.stringify(text)} starts above its end`;
  return { start, end, inside, text };
}

/** True when `value` raises an alert for `range` (outside it, or inside with `@`). */
export function rangeAlerts(range: NagiosRange, value: number): boolean {
  const within = value >= range.start && value <= range.end;
  return range.inside ? within : !within;
}

/**
 * The state for one value: CRITICAL if the critical range alerts, else WARNING if
 * the warning range alerts, else OK (the plugins' `get_status`). A missing range
 * never alerts.
 */
export function thresholdState(value: number, warn: NagiosRange | undefined, crit: NagiosRange | undefined): 'OK' | 'WARNING' | 'CRITICAL' {
  if (crit && rangeAlerts(crit, value)) return 'CRITICAL';
  if (warn && rangeAlerts(warn, value)) return 'WARNING';
  return 'OK';
}
