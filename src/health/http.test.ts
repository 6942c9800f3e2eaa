/** The http/https check against real servers on 127.0.0.1. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { healthSchema, type HttpHealthConfig, type HttpsHealthConfig } from '../config/health-schema.ts';
import { createHttpCheck, statusMatches } from './http.ts';
import { listen, loopback, refusedPort } from './testing.ts';

const target = loopback;
const httpCfg = (o: Record<string, unknown> = {}) => healthSchema.parse({ type: 'http', ...o }) as HttpHealthConfig;
const httpsCfg = (o: Record<string, unknown> = {}) => healthSchema.parse({ type: 'https', ...o }) as HttpsHealthConfig;
const within = (ms: number) => AbortSignal.timeout(ms);

test('status ranges match inclusively', () => {
  const r = [[200, 299], [301, 301]] as const;
  assert.deepEqual([199, 200, 250, 299, 300, 301, 302].map((c) => statusMatches(r, c)), [false, true, true, true, false, true, false]);
});

describe('http check', () => {
  test('200, then 503: L7_OK, then L7_STATUS 503', async (t) => {
    let status = 200;
    const seen: Array<{ method?: string; url?: string; host?: string; ua?: string; extra?: string }> = [];
    const server = http.createServer((req, res) => {
      seen.push({ method: req.method, url: req.url, host: req.headers.host, ua: req.headers['user-agent'], extra: req.headers['x-check'] as string });
      res.writeHead(status, status === 503 ? 'Service Unavailable' : 'OK').end('fine');
    });
    const port = await listen(t, server);
    const check = createHttpCheck(httpCfg({ path: '/health?deep=1', headers: { 'X-Check': 'yes' } }));
    const first = await check.run(target(port), within(2000));
    assert.equal(first.ok, true);
    assert.equal(first.status, 'L7_OK');
    assert.equal(first.code, 200);
    assert.ok(first.durationMs >= 0);
    status = 503;
    const second = await check.run(target(port), within(2000));
    assert.deepEqual({ ok: second.ok, status: second.status, code: second.code, detail: second.detail }, { ok: false, status: 'L7_STATUS', code: 503, detail: 'Service Unavailable' });
    assert.deepEqual(seen[0], { method: 'GET', url: '/health?deep=1', host: `127.0.0.1:${port}`, ua: 'palisade-health', extra: 'yes' });
  });

  test('expected statuses can be lists and ranges', async (t) => {
    const server = http.createServer((_req, res) => res.writeHead(301, { location: '/x' }).end());
    const port = await listen(t, server);
    assert.equal((await createHttpCheck(httpCfg()).run(target(port), within(2000))).status, 'L7_STATUS');
    assert.equal((await createHttpCheck(httpCfg({ expect_status: ['200-299', 301] })).run(target(port), within(2000))).status, 'L7_OK');
    assert.equal((await createHttpCheck(httpCfg({ expect_status: '3xx' })).run(target(port), within(2000))).ok, true);
  });

  test('Host header and method as configured; HEAD works', async (t) => {
    let got: { host?: string; method?: string } = {};
    const server = http.createServer((req, res) => {
      got = { host: req.headers.host, method: req.method };
      res.end();
    });
    const port = await listen(t, server);
    const r = await createHttpCheck(httpCfg({ method: 'HEAD', host: 'www.example.test' })).run(target(port), within(2000));
    assert.equal(r.status, 'L7_OK');
    assert.deepEqual(got, { host: 'www.example.test', method: 'HEAD' });
  });

  test('body regex and MD5 digest (keepalived HTTP_GET digest)', async (t) => {
    const body = 'status: ok\nversion: 1.2.3\n';
    const server = http.createServer((_req, res) => res.end(body));
    const port = await listen(t, server);
    const md5 = createHash('md5').update(body).digest('hex');
    const cases: Array<[Record<string, unknown>, string, RegExp?]> = [
      [{ expect_body: '^status: ok$' }, 'L7_BODY', /does not match/], // no `m` flag: ^…$ spans the whole body
      [{ expect_body: 'status: ok' }, 'L7_OK'],
      [{ expect_body: 'status: (?:ok|degraded)\\nversion' }, 'L7_OK'],
      [{ expect_body: 'status: down' }, 'L7_BODY', /does not match/],
      [{ digest: md5 }, 'L7_OK'],
      [{ digest: '0'.repeat(32) }, 'L7_BODY', new RegExp(`digest ${md5}`)],
      [{ digest: md5, expect_body: 'version' }, 'L7_OK'],
    ];
    for (const [opts, status, detail] of cases) {
      const r = await createHttpCheck(httpCfg(opts)).run(target(port), within(2000));
      assert.equal(r.status, status, JSON.stringify(opts));
      if (detail) assert.match(r.detail ?? '', detail);
    }
  });

  test('a body is never read beyond max_body', async (t) => {
    let written = 0;
    const server = http.createServer((_req, res) => {
      // An endless body: the check must stop reading, not the server writing.
      const chunk = Buffer.alloc(16 * 1024, 'a');
      const pump = () => {
        while (!res.destroyed && written < 64 * 1024 * 1024) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      res.on('error', () => {});
      pump();
    });
    const port = await listen(t, server);
    const r = await createHttpCheck(httpCfg({ expect_body: 'never', max_body: '4k' })).run(target(port), within(5000));
    assert.equal(r.status, 'L7_BODY');
    assert.match(r.detail ?? '', /longer than max_body \(4096 bytes\)/);
    assert.ok(written < 64 * 1024 * 1024, 'the server was stopped by the closed connection');
  });

  test('a server that accepts but never answers: L7_TIMEOUT', async (t) => {
    const server = http.createServer(() => {
      /* never answers */
    });
    const port = await listen(t, server);
    const started = performance.now();
    const r = await createHttpCheck(httpCfg()).run(target(port), within(200));
    assert.equal(r.status, 'L7_TIMEOUT');
    assert.equal(r.ok, false);
    assert.ok(performance.now() - started < 5000);
  });

  test('a refused port: L4_CONNECT_REFUSED', async () => {
    const r = await createHttpCheck(httpCfg()).run(target(await refusedPort()), within(2000));
    assert.equal(r.status, 'L4_CONNECT_REFUSED');
  });

  test('a connection closed without a response: L7_RESPONSE; a reset: L4_RESET', async (t) => {
    const closer = createNetServer((s) => s.end());
    const resetter = createNetServer((s) => s.once('data', () => s.resetAndDestroy()));
    const closePort = await listen(t, closer);
    const resetPort = await listen(t, resetter);
    assert.equal((await createHttpCheck(httpCfg()).run(target(closePort), within(2000))).status, 'L7_RESPONSE');
    assert.equal((await createHttpCheck(httpCfg()).run(target(resetPort), within(2000))).status, 'L4_RESET');
  });

  test('garbage instead of HTTP: L7_RESPONSE', async (t) => {
    const server = createNetServer((s) => s.end('SSH-2.0-OpenSSH\r\n\r\n'));
    const port = await listen(t, server);
    const r = await createHttpCheck(httpCfg()).run(target(port), within(2000));
    assert.equal(r.status, 'L7_RESPONSE');
  });

  test('an already-aborted signal settles at once', async (t) => {
    const server = http.createServer((_req, res) => res.end());
    const port = await listen(t, server);
    const ctl = new AbortController();
    ctl.abort();
    const r = await createHttpCheck(httpCfg()).run(target(port), ctl.signal);
    assert.equal(r.ok, false);
  });
});

describe('https check', () => {
  let pki: { key: Buffer; cert: Buffer } | undefined;
  let reason = '';
  try {
    const dir = mkdtempSync(join(tmpdir(), 'palisade-health-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=backend.test', '-addext', 'subjectAltName=DNS:backend.test', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    pki = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
    rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    reason = `openssl could not make a test certificate: ${String(err)}`;
  }

  test('self-signed backend: verify off passes with SNI; verify on fails as L6_TLS', { skip: pki ? false : reason }, async (t) => {
    let sni: string | false | null | undefined;
    const server = https.createServer({ key: pki!.key, cert: pki!.cert }, (req, res) => {
      sni = (req.socket as TLSSocket).servername;
      res.end('ok');
    });
    const port = await listen(t, server);
    const ok = await createHttpCheck(httpsCfg({ sni: 'backend.test' })).run(target(port), within(3000));
    assert.equal(ok.status, 'L7_OK');
    assert.equal(sni, 'backend.test');
    const byHost = await createHttpCheck(httpsCfg({ host: 'backend.test' })).run(target(port), within(3000));
    assert.equal(byHost.status, 'L7_OK');
    assert.equal(sni, 'backend.test', 'without sni, the server name comes from the Host header');
    const strict = await createHttpCheck(httpsCfg({ sni: 'backend.test', verify: true })).run(target(port), within(3000));
    assert.equal(strict.status, 'L6_TLS');
    assert.match(strict.detail ?? '', /self[- ]signed/i);
  });

  test('https to a plain-HTTP port: L6_TLS', async (t) => {
    const server = http.createServer((_req, res) => res.end());
    const port = await listen(t, server);
    const r = await createHttpCheck(httpsCfg()).run(target(port), within(3000));
    assert.equal(r.status, 'L6_TLS');
  });

  test('a TLS handshake that never completes: L6_TIMEOUT', async (t) => {
    const server = createNetServer(() => {
      /* accepts TCP, never speaks TLS */
    });
    const port = await listen(t, server);
    const r = await createHttpCheck(httpsCfg()).run(target(port), within(200));
    assert.equal(r.status, 'L6_TIMEOUT');
  });
});

test('a body cut short: L7_RESPONSE', async (t) => {
  const server = createNetServer((s) => {
    s.on('error', () => {});
    s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part'));
  });
  const port = await listen(t, server);
  const r = await createHttpCheck(httpCfg({ expect_body: 'part' })).run(target(port), within(2000));
  assert.equal(r.status, 'L7_RESPONSE');
});
