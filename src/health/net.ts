/**
 * Shared edges of the socket checks: naming a failure by the layer it happened in,
 * and settling a check exactly once.
 */
import { connect, type Socket } from 'node:net';
import type { CheckResult, CheckStatus, CheckTarget } from './types.ts';

/** Where a socket check was when something happened: TCP connect, TLS handshake, or the protocol. */
export type Phase = 'connect' | 'tls' | 'l7';

const UNREACHABLE = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EADDRNOTAVAIL']);

function isTlsError(code: string): boolean {
  return (
    code.startsWith('ERR_SSL_') ||
    code.startsWith('ERR_TLS_') ||
    code.startsWith('CERT_') ||
    code.startsWith('UNABLE_TO_') ||
    code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
    code === 'SELF_SIGNED_CERT_IN_CHAIN' ||
    code === 'HOSTNAME_MISMATCH' ||
    code === 'ERR_OSSL_PEM_NO_START_LINE'
  );
}

/** A failure result for a socket error seen in `phase` (without the duration). */
export function classifyError(err: unknown, phase: Phase): Omit<CheckResult, 'durationMs'> {
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = e instanceof Error ? e.message : String(err);
  const detail = code && !message.includes(code) ? `${code}: ${message}` : message;
  let status: CheckStatus;
  if (code === 'ECONNREFUSED') status = 'L4_CONNECT_REFUSED';
  else if (code === 'ETIMEDOUT') status = phase === 'connect' ? 'L4_TIMEOUT' : phase === 'tls' ? 'L6_TIMEOUT' : 'L7_TIMEOUT';
  else if (UNREACHABLE.has(code)) status = 'L4_UNREACHABLE';
  else if (isTlsError(code) || (phase === 'tls' && code !== 'ENOTFOUND' && code !== 'EAI_AGAIN')) status = 'L6_TLS';
  else if (code.startsWith('HPE_')) status = 'L7_RESPONSE';
  // node:http names a close before any response "socket hang up" (code ECONNRESET).
  else if (message === 'socket hang up') status = 'L7_RESPONSE';
  else if (code === 'ECONNRESET' || code === 'EPIPE') status = 'L4_RESET';
  else status = phase === 'connect' ? 'L4_ERROR' : 'L7_RESPONSE';
  return { ok: false, status, detail };
}

/** The timeout result for the phase the check was in. */
export function timeoutResult(phase: Phase): Omit<CheckResult, 'durationMs'> {
  const status: CheckStatus = phase === 'connect' ? 'L4_TIMEOUT' : phase === 'tls' ? 'L6_TIMEOUT' : 'L7_TIMEOUT';
  return { ok: false, status, detail: phase === 'connect' ? 'no connection within the timeout' : phase === 'tls' ? 'no TLS handshake within the timeout' : 'no reply within the timeout' };
}

/**
 * Settles a check once: the first call to `finish` wins, runs `cleanup`, adds the
 * duration. An already-aborted signal settles at once.
 */
export function settleOnce(
  signal: AbortSignal,
  resolve: (r: CheckResult) => void,
  onAbort: () => Omit<CheckResult, 'durationMs'>,
): { finish: (r: Omit<CheckResult, 'durationMs'>) => void; onCleanup: (fn: () => void) => void; done: () => boolean } {
  const started = performance.now();
  let settled = false;
  const cleanups: Array<() => void> = [];
  const finish = (r: Omit<CheckResult, 'durationMs'>) => {
    if (settled) return;
    settled = true;
    signal.removeEventListener('abort', abort);
    for (const fn of cleanups) {
      try {
        fn();
      } catch {
        // cleanup of a dead socket must not hide the result
      }
    }
    resolve({ ...r, durationMs: Math.round((performance.now() - started) * 10) / 10 });
  };
  const abort = () => finish(onAbort());
  if (signal.aborted) queueMicrotask(abort);
  else signal.addEventListener('abort', abort, { once: true });
  return { finish, onCleanup: (fn) => cleanups.push(fn), done: () => settled };
}

/** `host:port` for a Host header or a message, with IPv6 in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Opens the TCP connection of a socket check, destroyed when the check settles; a
 * connect that throws at once (bad address) settles the check as a connect failure
 * and returns undefined.
 */
export function connectProbe(target: CheckTarget, finish: (r: Omit<CheckResult, 'durationMs'>) => void, onCleanup: (fn: () => void) => void): Socket | undefined {
  let socket: Socket;
  try {
    socket = connect({ host: target.host, port: target.port, noDelay: true });
  } catch (err) {
    finish(classifyError(err, 'connect'));
    return undefined;
  }
  onCleanup(() => socket.destroy());
  return socket;
}
