/**
 * `tcp`: connect (and optionally send and expect a reply) and time it. check_tcp's
 * output and perfdata: `TCP OK - 0.001 second response time on 127.0.0.1 port 80`,
 * `time=0.000576s;[warn];[crit];0.000000;<timeout>`; a refused connect or a timeout
 * is CRITICAL, a reply without `expect` is `mismatch` (WARNING by default).
 *
 * Light on purpose (the benchmark runs thousands a minute): one socket, one timer,
 * the reply kept only while looking for `expect` (at most 4 KiB).
 */
import { connect } from 'node:net';
import type { BuiltinOptions } from '../../config/check-schema.ts';
import type { CheckState } from '../result.ts';
import type { PerfDatum } from '../result.ts';
import { toResult } from './common.ts';
import type { CheckContext, Verdict } from './common.ts';

type TcpOptions = BuiltinOptions<'tcp'>;

/** Reply bytes kept while looking for `expect`. */
const MAX_REPLY = 4096;

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'Connection refused',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  ECONNRESET: 'Connection reset by peer',
  ETIMEDOUT: 'Connection timed out',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ENOTFOUND: 'Name or service not known',
  EAI_AGAIN: 'Temporary failure in name resolution',
};

/** What happened on the wire. */
export type TcpOutcome =
  | { kind: 'ok'; seconds: number; reply?: string }
  | { kind: 'mismatch'; seconds: number; reply: string }
  | { kind: 'error'; code: string; message: string }
  | { kind: 'timeout' };

function secondsText(ms: number | undefined): string {
  return ms === undefined ? '' : (ms / 1000).toFixed(6);
}

/** Pure: the verdict for an outcome. */
export function decideTcp(opts: TcpOptions, o: TcpOutcome): Verdict {
  if (o.kind === 'timeout') return { state: 'CRITICAL', summary: `CRITICAL - Socket timeout after ${opts.timeout / 1000} seconds`, perfdata: [] };
  if (o.kind === 'error') {
    return { state: 'CRITICAL', summary: `connect to address ${opts.host} and port ${opts.port}: ${ERRNO_TEXT[o.code] ?? o.message}`, perfdata: [] };
  }
  const perf: PerfDatum = { label: 'time', value: Number(o.seconds.toFixed(6)), uom: 's', min: 0, max: opts.timeout / 1000 };
  if (opts.warning !== undefined) perf.warn = secondsText(opts.warning);
  if (opts.critical !== undefined) perf.crit = secondsText(opts.critical);
  if (o.kind === 'mismatch') {
    const shown = o.reply.replace(/\s+/g, ' ').trim().slice(0, 200);
    return { state: opts.mismatch, summary: `TCP ${opts.mismatch} - Unexpected response from host/socket: ${shown}`, perfdata: [perf] };
  }
  const ms = o.seconds * 1000;
  const state: CheckState = opts.critical !== undefined && ms > opts.critical ? 'CRITICAL' : opts.warning !== undefined && ms > opts.warning ? 'WARNING' : 'OK';
  return { state, summary: `TCP ${state} - ${o.seconds.toFixed(3)} second response time on ${opts.host} port ${opts.port}`, perfdata: [perf] };
}

/** The I/O: connect, send, read until `expect`; never rejects. */
export function probeTcp(opts: TcpOptions, signal?: AbortSignal): Promise<TcpOutcome> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let reply = '';
    let done = false;
    const socket = connect({ host: opts.host, port: opts.port, noDelay: true });
    const finish = (o: TcpOutcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout' }), opts.timeout);
    const onAbort = () => finish({ kind: 'timeout' });
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (opts.expect !== undefined && reply !== '') finish({ kind: 'mismatch', seconds: (performance.now() - t0) / 1000, reply });
      else finish({ kind: 'error', code: e.code ?? '', message: e.message });
    });
    socket.on('connect', () => {
      if (opts.send !== undefined) socket.write(opts.send);
      if (opts.expect === undefined) finish({ kind: 'ok', seconds: (performance.now() - t0) / 1000 });
    });
    if (opts.expect !== undefined) {
      const expect = opts.expect;
      socket.setEncoding('latin1');
      socket.on('data', (d: string) => {
        reply = (reply + d).slice(-MAX_REPLY);
        if (reply.includes(expect)) finish({ kind: 'ok', seconds: (performance.now() - t0) / 1000, reply });
      });
      socket.on('end', () => finish({ kind: 'mismatch', seconds: (performance.now() - t0) / 1000, reply }));
    }
  });
}

export async function runTcp(opts: TcpOptions, ctx: CheckContext) {
  const startedAt = ctx.now();
  const t0 = performance.now();
  return toResult(decideTcp(opts, await probeTcp(opts, ctx.signal)), startedAt, t0);
}
