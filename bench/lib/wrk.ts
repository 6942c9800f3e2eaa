/**
 * Parsing wrk 4.x output (`wrk --latency`).
 *
 * wrk prints times with `format_time_us` ("%.2f" + us / ms / s / m / h) and sizes with
 * `format_binary` ("%.2f" + "" / K / M / G / T / P, powers of 1024, followed by "B").
 */

export interface WrkResult {
  /** Requests completed in the run. */
  requests: number;
  /** Run time as wrk measured it, in seconds. */
  seconds: number;
  /** Bytes read, in all (headers + bodies). */
  bytesRead: number;
  /** `Requests/sec:` line. */
  reqPerSec: number;
  /** `Transfer/sec:` line, in bytes per second. */
  bytesPerSec: number;
  /** Latency distribution, in microseconds. */
  latencyUs: { avg: number; max: number; p50: number; p75: number; p90: number; p99: number };
  /** Responses with a status >= 400 (`Non-2xx or 3xx responses:`). */
  non2xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  /** non2xx plus every kind of socket error. */
  errors: number;
}

const TIME_UNITS: Record<string, number> = { us: 1, ms: 1_000, s: 1_000_000, m: 60_000_000, h: 3_600_000_000 };
const SIZE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4, P: 1024 ** 5 };

/** "535.56us" / "1.23ms" / "2.00s" / "1.50m" → microseconds. */
export function parseTimeUs(text: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(us|ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new Error(`wrk: cannot parse time ${JSON.stringify(text)}`);
  return Number(m[1]) * TIME_UNITS[m[2]!]!;
}

/** "13.88MB" / "512.00B" / "1.02GB" → bytes (wrk's units are powers of 1024). */
export function parseBytes(text: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)([KMGTP]?)B$/.exec(text.trim());
  if (!m) throw new Error(`wrk: cannot parse size ${JSON.stringify(text)}`);
  return Number(m[1]) * SIZE_UNITS[m[2]!]!;
}

function need(re: RegExp, out: string, what: string): RegExpExecArray {
  const m = re.exec(out);
  if (!m) throw new Error(`wrk: no ${what} in its output:\n${out}`);
  return m;
}

export function parseWrk(out: string): WrkResult {
  const TIME = '([0-9.]+(?:us|ms|s|m|h))';
  const lat = need(new RegExp(`^\\s*Latency\\s+${TIME}\\s+\\S+\\s+${TIME}`, 'm'), out, 'Latency stats line');
  const pct = (p: number): number => parseTimeUs(need(new RegExp(`^\\s*${p}%\\s+${TIME}\\s*$`, 'm'), out, `${p}% latency`)[1]!);
  const total = need(/^\s*([0-9]+) requests in ([0-9.]+(?:us|ms|s|m|h)), ([0-9.]+[KMGTP]?B) read/m, out, 'request count');
  const rps = need(/^Requests\/sec:\s*([0-9.]+)/m, out, 'Requests/sec');
  const tps = need(/^Transfer\/sec:\s*([0-9.]+[KMGTP]?B)/m, out, 'Transfer/sec');
  const sock = /Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)/.exec(out);
  const non = /Non-2xx or 3xx responses: ([0-9]+)/.exec(out);
  const socketErrors = {
    connect: sock ? Number(sock[1]) : 0,
    read: sock ? Number(sock[2]) : 0,
    write: sock ? Number(sock[3]) : 0,
    timeout: sock ? Number(sock[4]) : 0,
  };
  const non2xx = non ? Number(non[1]) : 0;
  return {
    requests: Number(total[1]),
    seconds: parseTimeUs(total[2]!) / 1e6,
    bytesRead: parseBytes(total[3]!),
    reqPerSec: Number(rps[1]),
    bytesPerSec: parseBytes(tps[1]!),
    latencyUs: {
      avg: parseTimeUs(lat[1]!),
      max: parseTimeUs(lat[2]!),
      p50: pct(50),
      p75: pct(75),
      p90: pct(90),
      p99: pct(99),
    },
    non2xx,
    socketErrors,
    errors: non2xx + socketErrors.connect + socketErrors.read + socketErrors.write + socketErrors.timeout,
  };
}

/** Microseconds → "535us" / "1.23ms" / "2.10s". */
export function formatUs(us: number): string {
  if (!Number.isFinite(us)) return '-';
  if (us < 1_000) return `${us.toFixed(0)}us`;
  if (us < 1_000_000) return `${(us / 1_000).toFixed(2)}ms`;
  return `${(us / 1_000_000).toFixed(2)}s`;
}
