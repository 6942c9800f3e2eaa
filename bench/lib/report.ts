/** Summaries over rounds, the printed table, and ratios to nginx. */
import type { Target, Workload } from './args.ts';
import { formatUs, type WrkResult } from './wrk.ts';

export interface RunRecord {
  round: number;
  workload: Workload;
  target: Target;
  /** Undefined when wrk failed; see `error`. */
  wrk: WrkResult | undefined;
  error?: string;
  /** CPU time of the serving process group (the proxy; the origin for `direct`), in seconds. */
  serverCpuSec: number;
  /** CPU time of the origin nginx, in seconds. */
  originCpuSec: number;
  /** Busy share of each cpu over the run, 0..1 (from /proc/stat). */
  cpuBusy: Record<string, number>;
  /**
   * Share of the proxy's cpu used by anything but the measured server (and the origin, if it is
   * pinned there): other people's processes, plus kernel work not charged to a process.
   * Undefined when the proxy cpu list is not a single cpu.
   */
  otherOnProxyCpu: number | undefined;
  wallSec: number;
}

export interface TargetStatus {
  ok: boolean;
  /** Why it was not measured. */
  error?: string;
  /** The end of its output, when it failed. */
  log?: string;
  pid?: number;
}

export interface Summary {
  workload: Workload;
  target: Target;
  status: 'ok' | 'failed';
  error?: string;
  runs: number;
  reqPerSec: number;
  reqPerSecMin: number;
  reqPerSecMax: number;
  p50Us: number;
  p99Us: number;
  /** wrk's Transfer/sec in MiB/s (wrk prints MB meaning 2^20 bytes; headers included). */
  mibPerSec: number;
  errors: number;
  /** CPU of the serving process per request, in microseconds. */
  cpuUsPerReq: number;
  /** CPU of the serving process, share of one core. */
  serverCpu: number;
  originCpu: number;
  cpuBusy: Record<string, number>;
  otherOnProxyCpu: number;
  otherOnProxyCpuMax: number;
  vsNginx: { reqPerSec: number; p99: number; mibPerSec: number } | undefined;
}

export function median(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).toSorted((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export function summarize(runs: RunRecord[], workloads: Workload[], targets: Target[], status: Record<string, TargetStatus>): Summary[] {
  const out: Summary[] = [];
  for (const workload of workloads) {
    const rows: Summary[] = [];
    for (const target of targets) {
      const mine = runs.filter((r) => r.workload === workload && r.target === target);
      const good = mine.filter((r) => r.wrk !== undefined);
      const w = good.map((r) => r.wrk!);
      const st = status[target];
      const failedRuns = mine.filter((r) => r.wrk === undefined);
      const error = st && !st.ok ? st.error : failedRuns.length > 0 ? `${failedRuns.length} run(s) failed: ${failedRuns[0]!.error}` : undefined;
      const cpuKeys = [...new Set(good.flatMap((r) => Object.keys(r.cpuBusy)))].toSorted();
      rows.push({
        workload,
        target,
        status: good.length > 0 ? 'ok' : 'failed',
        ...(error !== undefined ? { error } : {}),
        runs: good.length,
        reqPerSec: median(w.map((x) => x.reqPerSec)),
        reqPerSecMin: w.length ? Math.min(...w.map((x) => x.reqPerSec)) : NaN,
        reqPerSecMax: w.length ? Math.max(...w.map((x) => x.reqPerSec)) : NaN,
        p50Us: median(w.map((x) => x.latencyUs.p50)),
        p99Us: median(w.map((x) => x.latencyUs.p99)),
        mibPerSec: median(w.map((x) => x.bytesPerSec / 2 ** 20)),
        errors: w.reduce((a, x) => a + x.errors, 0),
        cpuUsPerReq: median(good.map((r) => (r.serverCpuSec * 1e6) / Math.max(1, r.wrk!.requests))),
        serverCpu: median(good.map((r) => r.serverCpuSec / r.wallSec)),
        originCpu: median(good.map((r) => r.originCpuSec / r.wallSec)),
        cpuBusy: Object.fromEntries(cpuKeys.map((k) => [k, median(good.map((r) => r.cpuBusy[k] ?? NaN))])),
        otherOnProxyCpu: median(good.map((r) => r.otherOnProxyCpu ?? NaN)),
        otherOnProxyCpuMax: Math.max(-Infinity, ...good.map((r) => r.otherOnProxyCpu ?? -Infinity)),
        vsNginx: undefined,
      });
    }
    const ng = rows.find((r) => r.target === 'nginx' && r.status === 'ok');
    for (const r of rows) {
      if (ng && r.status === 'ok' && r.target !== 'direct') {
        r.vsNginx = { reqPerSec: r.reqPerSec / ng.reqPerSec, p99: r.p99Us / ng.p99Us, mibPerSec: r.mibPerSec / ng.mibPerSec };
      }
    }
    out.push(...rows);
  }
  return out;
}

function fmtNum(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return '-';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const pct = (x: number): string => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : '-');
const ratio = (x: number | undefined): string => (x !== undefined && Number.isFinite(x) ? `${x.toFixed(2)}x` : '-');

function table(header: string[], rows: string[][], rightAlign: boolean[]): string {
  const width = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (rightAlign[i] ? c.padStart(width[i]!) : c.padEnd(width[i]!))).join('  ').trimEnd();
  return [line(header), width.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function renderTable(summaries: Summary[], workloads: Workload[], proxyCpu: string): string {
  const parts: string[] = [];
  for (const workload of workloads) {
    const rows = summaries.filter((s) => s.workload === workload);
    const cpus = [...new Set(rows.flatMap((r) => Object.keys(r.cpuBusy)))].toSorted();
    const header = ['target', 'req/s', 'range', 'p50', 'p99', 'MiB/s', 'errors', 'req/s÷nginx', 'p99÷nginx', 'MiB/s÷nginx', 'CPU µs/req', 'server CPU', 'origin CPU', ...cpus.map((c) => `${c} busy`), `other on cpu${proxyCpu}`];
    const body = rows.map((s) =>
      s.status !== 'ok'
        ? [s.target, `FAILED: ${s.error ?? 'unknown'}`]
        : [
            s.target,
            fmtNum(s.reqPerSec),
            s.runs > 1 ? `±${((100 * (s.reqPerSecMax - s.reqPerSecMin)) / 2 / s.reqPerSec).toFixed(1)}%` : '-',
            formatUs(s.p50Us),
            formatUs(s.p99Us),
            fmtNum(s.mibPerSec, 1),
            fmtNum(s.errors),
            ratio(s.vsNginx?.reqPerSec),
            ratio(s.vsNginx?.p99),
            ratio(s.vsNginx?.mibPerSec),
            fmtNum(s.cpuUsPerReq, 1),
            pct(s.serverCpu),
            pct(s.originCpu),
            ...cpus.map((c) => pct(s.cpuBusy[c] ?? NaN)),
            pct(s.otherOnProxyCpu),
          ],
    );
    // A FAILED row spans the table: print it after the aligned rows.
    const okRows = body.filter((r) => r.length > 2);
    const failed = body.filter((r) => r.length <= 2);
    parts.push(`workload ${workload}${workload === 'small' ? ' (12-byte body)' : ' (65,536-byte body)'}`);
    parts.push(table(header, okRows, header.map((_, i) => i !== 0)));
    for (const f of failed) parts.push(`${f[0]}  ${f[1]}`);
    const notes = rows.filter((r) => r.status === 'ok' && r.error !== undefined).map((r) => `  note: ${r.target}: ${r.error}`);
    const noisy = rows.filter((r) => r.status === 'ok' && r.otherOnProxyCpuMax > 0.1);
    if (noisy.length > 0) {
      notes.push(`  warning: other load on cpu${proxyCpu} (up to ${Math.round(100 * Math.max(...noisy.map((r) => r.otherOnProxyCpuMax)))}% of it, during ${noisy.map((r) => r.target).join(', ')}): these figures are noisy`);
    }
    parts.push(...notes, '');
  }
  return parts.join('\n');
}
