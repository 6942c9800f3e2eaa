/**
 * `http`: one request; status, body content, response time and, for https, the
 * server certificate's expiry. check_http's output and perfdata:
 * `HTTP OK: HTTP/1.1 200 OK - 5940 bytes in 0.002 second response time`,
 * `time=0.002288s;[warn];[crit];0.000000;<timeout> size=5940B;;;0;`.
 *
 * The body is streamed: its size is counted, and only up to `max_body` bytes are
 * kept, and only when `contains` / `matches` need them.
 */
import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { BuiltinOptions } from '../../config/check-schema.ts';
import type { CheckState, PerfDatum } from '../result.ts';
import { errorText, toResult, worst } from './common.ts';
import type { CheckContext, Verdict } from './common.ts';

type HttpOptions = BuiltinOptions<'http'>;

export interface HttpCertificate {
  /** Subject CN (or the first subject field). */
  subject: string;
  /** Expiry, ms since the epoch. */
  validTo: number;
}

export type HttpOutcome =
  | { kind: 'response'; httpVersion: string; status: number; statusText: string; bytes: number; seconds: number; body?: string; cert?: HttpCertificate }
  | { kind: 'error'; code: string; message: string }
  | { kind: 'timeout' };

const DAY = 86_400_000;

function statusState(opts: HttpOptions, status: number): { state: CheckState; note: string } {
  if (opts.expect !== undefined) {
    const ok = opts.expect.some(([lo, hi]) => status >= lo && status <= hi);
    return ok ? { state: 'OK', note: '' } : { state: 'CRITICAL', note: ` - expected status ${opts.expect.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(',')}` };
  }
  // check_http without -e: 5xx CRITICAL, 4xx WARNING, the rest OK.
  return { state: status >= 500 ? 'CRITICAL' : status >= 400 ? 'WARNING' : 'OK', note: '' };
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' +0000');
}

/** Pure: the verdict for an outcome at wall-clock time `now` (ms). */
export function decideHttp(opts: HttpOptions, o: HttpOutcome, now: number): Verdict {
  if (o.kind === 'timeout') return { state: 'CRITICAL', summary: `CRITICAL - Socket timeout after ${opts.timeout / 1000} seconds`, perfdata: [] };
  if (o.kind === 'error') {
    const connect = ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL'].includes(o.code);
    return {
      state: 'CRITICAL',
      summary: connect ? 'HTTP CRITICAL - Unable to open TCP socket' : `HTTP CRITICAL - ${o.message}`,
      longOutput: connect ? `${opts.url}: ${o.message}` : '',
      perfdata: [],
    };
  }
  const notes: string[] = [];
  const st = statusState(opts, o.status);
  let state = st.state;
  if (st.note) notes.push(st.note.slice(3));
  if (opts.contains !== undefined && !(o.body ?? '').includes(opts.contains)) {
    state = worst(state, 'CRITICAL');
    notes.push(`string '${opts.contains}' not found on '${opts.url}'`);
  }
  if (opts.matches !== undefined && !new RegExp(opts.matches).test(o.body ?? '')) {
    state = worst(state, 'CRITICAL');
    notes.push(`pattern not found`);
  }
  const ms = o.seconds * 1000;
  if (opts.critical !== undefined && ms > opts.critical) state = worst(state, 'CRITICAL');
  else if (opts.warning !== undefined && ms > opts.warning) state = worst(state, 'WARNING');
  if (o.cert !== undefined) {
    const days = (o.cert.validTo - now) / DAY;
    const when = isoDate(o.cert.validTo);
    if (days < 0) {
      state = worst(state, 'CRITICAL');
      notes.push(`certificate '${o.cert.subject}' expired on ${when}`);
    } else if (days < opts.certificate_critical_days) {
      state = worst(state, 'CRITICAL');
      notes.push(`certificate '${o.cert.subject}' expires in ${Math.floor(days)} days (${when})`);
    } else if (days < opts.certificate_warning_days) {
      state = worst(state, 'WARNING');
      notes.push(`certificate '${o.cert.subject}' expires in ${Math.floor(days)} days (${when})`);
    }
  }
  const time: PerfDatum = { label: 'time', value: Number(o.seconds.toFixed(6)), uom: 's', min: 0, max: opts.timeout / 1000 };
  if (opts.warning !== undefined) time.warn = (opts.warning / 1000).toFixed(6);
  if (opts.critical !== undefined) time.crit = (opts.critical / 1000).toFixed(6);
  const perfdata: PerfDatum[] = [time, { label: 'size', value: o.bytes, uom: 'B', min: 0 }];
  const line = `HTTP/${o.httpVersion} ${o.status} ${o.statusText}`.trimEnd();
  const middle = notes.map((n) => ` - ${n}`).join('');
  return { state, summary: `HTTP ${state}: ${line}${middle} - ${o.bytes} bytes in ${o.seconds.toFixed(3)} second response time`, perfdata };
}

function certificateOf(res: IncomingMessage): HttpCertificate | undefined {
  const sock = res.socket as TLSSocket;
  if (typeof sock.getPeerCertificate !== 'function') return undefined;
  const c = sock.getPeerCertificate();
  if (!c || !c.valid_to) return undefined;
  const subject = c.subject?.CN ?? Object.values(c.subject ?? {})[0] ?? '';
  return { subject: String(subject), validTo: Date.parse(c.valid_to) };
}

/** The I/O: one request, the body streamed; never rejects. */
export function probeHttp(opts: HttpOptions, signal?: AbortSignal): Promise<HttpOutcome> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const https = opts.url.startsWith('https:');
    const keepBody = opts.contains !== undefined || opts.matches !== undefined;
    let done = false;
    const finish = (o: HttpOutcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      req.destroy();
      resolve(o);
    };
    const headers: Record<string, string> = { 'user-agent': 'palisade-monitor (monitoring-plugins compatible)', ...opts.headers };
    const options = { method: opts.method, headers, agent: false as const, ...(https && { rejectUnauthorized: opts.tls_verify }) };
    const req = (https ? httpsRequest : httpRequest)(opts.url, options, (res) => {
      const cert = https ? certificateOf(res) : undefined;
      const chunks: Buffer[] = [];
      let kept = 0;
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (keepBody && kept < opts.max_body) {
          const part = c.length > opts.max_body - kept ? c.subarray(0, opts.max_body - kept) : c;
          chunks.push(part);
          kept += part.length;
        }
      });
      res.on('end', () =>
        finish({
          kind: 'response',
          httpVersion: res.httpVersion,
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? '',
          bytes,
          seconds: (performance.now() - t0) / 1000,
          ...(keepBody && { body: Buffer.concat(chunks).toString('utf8') }),
          ...(cert && { cert }),
        }),
      );
      res.on('error', (e: NodeJS.ErrnoException) => finish({ kind: 'error', code: e.code ?? '', message: errorText(e) }));
    });
    const timer = setTimeout(() => finish({ kind: 'timeout' }), opts.timeout);
    const onAbort = () => finish({ kind: 'timeout' });
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e: NodeJS.ErrnoException) => finish({ kind: 'error', code: e.code ?? '', message: errorText(e) }));
    req.end(opts.body);
  });
}

export async function runHttp(opts: HttpOptions, ctx: CheckContext) {
  const startedAt = ctx.now();
  const t0 = performance.now();
  const o = await probeHttp(opts, ctx.signal);
  return toResult(decideHttp(opts, o, ctx.now()), startedAt, t0);
}
