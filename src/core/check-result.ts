/**
 * What one check run produced, whether it came from a Nagios plugin, a built-in
 * check or an agent: the contract shared by the plugin runner, the built-in checks,
 * the Nagios state logic, notifications, the history store and the dashboard.
 */

/** Nagios service states, by plugin exit code 0–3. */
export type CheckState = 'OK' | 'WARNING' | 'CRITICAL' | 'UNKNOWN';

export type CheckCode = 0 | 1 | 2 | 3;

export const STATE_BY_CODE: readonly CheckState[] = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'];

export const CODE_BY_STATE: Readonly<Record<CheckState, CheckCode>> = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 };

/**
 * One performance datum, as the plugin guidelines define it:
 * `'label'=value[UOM];[warn];[crit];[min];[max]`.
 */
export interface PerfDatum {
  /** The label, unquoted (`'/var lib'` → `/var lib`). */
  label: string;
  /** The value in the unit `uom` as printed (no scaling). */
  value: number;
  /** '' | s | ms | us | % | B | KB | MB | GB | TB | c (as printed). */
  uom: string;
  /** The warning range exactly as printed (`10`, `~:15`, `@10:20`); absent when empty. */
  warn?: string;
  /** The critical range exactly as printed; absent when empty. */
  crit?: string;
  min?: number;
  max?: number;
}

export interface CheckResult {
  state: CheckState;
  code: CheckCode;
  /** The first line of output, before any `|`. */
  summary: string;
  /** Further lines of output (performance data removed); '' when none. */
  longOutput: string;
  perfdata: PerfDatum[];
  /** When the run started, ms since the epoch (from the injected clock). */
  startedAt: number;
  /** How long the run took, in ms. */
  durationMs: number;
}
