/**
 * `http` / `https` checks (keepalived HTTP_GET / SSL_GET, HAProxy `option httpchk`):
 * one request on a fresh connection, the status against the expected ranges, and
 * optionally the first `max_body` bytes of the body against a regex or an MD5 digest.
 * The connection is closed as soon as the answer is known; a body is never read
 * beyond `max_body`.
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { HttpHealthConfig, HttpsHealthConfig, StatusRanges } from '../config/health-schema.ts';
import { classifyError, hostPort, settleOnce, timeoutResult, type Phase } from './net.ts';
import type { Check, CheckResult, CheckTarget } from './types.ts';

export function statusMatches(ranges: StatusRanges, code: number): boolean {
  return ranges.some(([lo, hi]) => code >= lo && code <= hi);
}

export function createHttpCheck(cfg: HttpHealthConfig | HttpsHealthConfig): Check {
  const tls = cfg.type === 'https';
  const bodyRegex = cfg.expect_body === undefined ? undefined : new RegExp(cfg.expect_body);
  const readBody = bodyRegex !== undefined || cfg.digest !== undefined;
  const sni = cfg.type === 'https' ? cfg.sni : undefined;
  const verify = cfg.type === 'https' ? cfg.verify : false;

  return {
    name: cfg.type,
    run(target: CheckTarget, signal: AbortSignal): Promise<CheckResult> {
      return new Promise((resolve) => {
        let phase: Phase = 'connect';
        const { finish, onCleanup } = settleOnce(signal, resolve, () => timeoutResult(phase));
        const headers: Record<string, string> = {
          ...cfg.headers,
          host: cfg.host ?? defaultHost(target, tls),
          'user-agent': 'palisade-health',
          accept: '*/*',
          connection: 'close',
        };
        if (cfg.method === 'POST' || cfg.method === 'OPTIONS') headers['content-length'] = '0';
        const options: https.RequestOptions = {
          host: target.host,
          port: target.port,
          method: cfg.method,
          path: cfg.path,
          headers,
          // A fresh connection per check, as keepalived and HAProxy do: a pooled one
          // would hide connect failures.
          agent: false,
        };
        if (tls) {
          // Without `sni`, node:https takes the server name from the Host header (none for an IP).
          if (sni !== undefined) options.servername = sni;
          options.rejectUnauthorized = verify;
        }
        let req: http.ClientRequest;
        try {
          req = (tls ? https : http).request(options);
        } catch (err) {
          finish(classifyError(err, 'connect'));
          return;
        }
        onCleanup(() => req.destroy());
        req.on('socket', (socket) => {
          socket.once('connect', () => {
            if (phase === 'connect') phase = tls ? 'tls' : 'l7';
          });
          if (tls) socket.once('secureConnect', () => (phase = 'l7'));
        });
        req.on('error', (err) => finish(classifyError(err, phase)));
        req.on('response', (res) => {
          phase = 'l7';
          const code = res.statusCode ?? 0;
          if (!statusMatches(cfg.expect_status, code)) {
            finish({ ok: false, status: 'L7_STATUS', code, detail: res.statusMessage || undefined });
            return;
          }
          if (!readBody) {
            finish({ ok: true, status: 'L7_OK', code });
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > cfg.max_body) {
              finish({ ok: false, status: 'L7_BODY', code, detail: `body longer than max_body (${cfg.max_body} bytes)` });
              return;
            }
            chunks.push(chunk);
          });
          // node:http reports a connection closed before the end of the body as an error "aborted".
          const cutShort = { ok: false, status: 'L7_RESPONSE', code, detail: 'connection closed in the body' } as const;
          res.on('error', (err) => finish(err.message === 'aborted' ? cutShort : classifyError(err, 'l7')));
          res.on('close', () => {
            if (!res.complete) finish(cutShort);
          });
          res.on('end', () => {
            const body = Buffer.concat(chunks);
            if (cfg.digest !== undefined) {
              const got = createHash('md5').update(body).digest('hex');
              if (got !== cfg.digest) {
                finish({ ok: false, status: 'L7_BODY', code, detail: `digest ${got}, expected ${cfg.digest}` });
                return;
              }
            }
            if (bodyRegex !== undefined && !bodyRegex.test(body.toString('utf8'))) {
              finish({ ok: false, status: 'L7_BODY', code, detail: `body does not match /${cfg.expect_body}/` });
              return;
            }
            finish({ ok: true, status: 'L7_OK', code });
          });
        });
        req.end();
      });
    },
  };
}

/** The Host header by default: where the check connects, without the scheme's default port. */
function defaultHost(target: CheckTarget, tls: boolean): string {
  const defaultPort = tls ? 443 : 80;
  if (target.port === defaultPort) return target.host.includes(':') ? `[${target.host}]` : target.host;
  return hostPort(target.host, target.port);
}
