/**
 * Prometheus text exposition (format 0.0.4) of check states and perfdata values:
 * the content of `/metrics` (the HTTP endpoint comes with the dashboard). It reads
 * one snapshot, the same the API and dashboard render. Its content type is
 * core/prometheus.ts's PROMETHEUS_CONTENT_TYPE.
 */
import type { PerfDatum } from '../core/check-result.ts';

/** One host or service as the exposition sees it. */
export interface CheckSnapshot {
  host: string;
  service?: string | undefined;
  /** OK / WARNING / CRITICAL / UNKNOWN, or UP / DOWN / UNREACHABLE. */
  state: string;
  stateType: 'SOFT' | 'HARD';
  attempt: number;
  isFlapping: boolean;
  acknowledged: boolean;
  inDowntime: boolean;
  /** ms since the epoch; 0 = never checked. */
  lastCheck: number;
  perfdata?: readonly PerfDatum[];
}

const STATE_CODE: Readonly<Record<string, number>> = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3, UP: 0, DOWN: 1, UNREACHABLE: 2 };

function esc(v: string): string {
  return v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labels(s: CheckSnapshot, extra = ''): string {
  return `{host="${esc(s.host)}",service="${esc(s.service ?? '')}"${extra}}`;
}

/** Renders the snapshot; metric names are stable (docs/monitoring.md lists them). */
export function prometheusText(checks: readonly CheckSnapshot[]): string {
  const out: string[] = [];
  const family = (name: string, help: string, type: 'gauge', rows: string[]) => {
    if (rows.length === 0) return;
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...rows);
  };
  family('palisade_check_state', 'Nagios state: services 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; hosts (service="") 0 UP, 1 DOWN, 2 UNREACHABLE.', 'gauge', checks.map((s) => `palisade_check_state${labels(s, `,state="${esc(s.state)}",state_type="${s.stateType.toLowerCase()}"`)} ${STATE_CODE[s.state] ?? 3}`));
  family('palisade_check_hard', '1 when the state is HARD, 0 when SOFT.', 'gauge', checks.map((s) => `palisade_check_hard${labels(s)} ${s.stateType === 'HARD' ? 1 : 0}`));
  family('palisade_check_attempt', 'Current check attempt (1 … max_check_attempts).', 'gauge', checks.map((s) => `palisade_check_attempt${labels(s)} ${s.attempt}`));
  family('palisade_check_flapping', '1 while the check is flapping.', 'gauge', checks.map((s) => `palisade_check_flapping${labels(s)} ${s.isFlapping ? 1 : 0}`));
  family('palisade_check_acknowledged', '1 while the problem is acknowledged.', 'gauge', checks.map((s) => `palisade_check_acknowledged${labels(s)} ${s.acknowledged ? 1 : 0}`));
  family('palisade_check_downtime', '1 while in scheduled downtime.', 'gauge', checks.map((s) => `palisade_check_downtime${labels(s)} ${s.inDowntime ? 1 : 0}`));
  family('palisade_check_last_run_seconds', 'Time of the last check, seconds since the epoch.', 'gauge', checks.filter((s) => s.lastCheck > 0).map((s) => `palisade_check_last_run_seconds${labels(s)} ${s.lastCheck / 1000}`));
  const perf: string[] = [];
  for (const s of checks) {
    for (const p of s.perfdata ?? []) perf.push(`palisade_perfdata_value${labels(s, `,label="${esc(p.label)}",uom="${esc(p.uom)}"`)} ${num(p.value)}`);
  }
  family('palisade_perfdata_value', 'Last performance data value, in the unit of its uom label (as the plugin printed it).', 'gauge', perf);
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}
