/**
 * Per-client limits against real sockets: clients bound to different 127.x source
 * addresses, a real backend, counts measured on the wire.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { parseRaw, startBackend, startProxy, waitFor, type ProxyHandle } from '../helpers/http.ts';

function cluster(backend: string, limits: string, extra = ''): string {
  return `
log: { level: debug, access: false }
services:
  www:
    listen: 127.0.0.1:0
    backends: [ ${backend} ]
${extra}
    limits:
${limits}
`;
}

/** One request from source address `from` on a fresh connection; the answer and whether the server closed. */
function requestFrom(port: number, from: string, bytes = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', timeoutMs = 10_000): Promise<{ status: number; text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', localAddress: from });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: text === '' ? 0 : parseRaw(text).status, text, closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    s.on('connect', () => s.write(bytes));
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      // A complete small response (Content-Length) is enough: keep-alive answers don't close.
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const m = /content-length: (\d+)/i.exec(text);
      if (end >= 0 && m && text.length - end - 4 >= Number(m[1]) && !/\r\nconnection: close\r\n/i.test(text.slice(0, end + 2))) finish(false);
    });
    s.on('close', () => finish(true));
    s.on('error', (err) => (chunks.length > 0 ? finish(true) : reject(err)));
  });
}

function xff(v: string): string {
  return `GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: ${v}\r\n\r\n`;
}

function openIdle(port: number, from: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', localAddress: from }, () => resolve(s));
    s.on('error', reject);
  });
}

async function limitsOf(p: ProxyHandle) {
  const st = await p.daemon.status();
  const l = st.services.find((s) => s.name === 'www')?.limits;
  assert.ok(l, 'the status has the limits of the service');
  return l;
}

test('limit_conn 100 per client: the 101st connection from one address gets 503 and is closed, another address still gets in', async (t) => {
  const b = await startBackend(t, 'a');
  const p = await startProxy(t, cluster(b.address, '      limit_conn: { per_client: 100 }'));
  const held: Socket[] = [];
  t.after(() => {
    for (const s of held) s.destroy();
  });
  for (let i = 0; i < 100; i++) held.push(await openIdle(p.port, '127.0.0.2'));
  await waitFor(async () => (await limitsOf(p)).connections === 100, 10_000, '100 counted connections');
  const refused = await requestFrom(p.port, '127.0.0.2');
  assert.equal(refused.status, 503);
  assert.ok(refused.closed, 'the refused connection is closed');
  const other = await requestFrom(p.port, '127.0.0.3');
  assert.equal(other.status, 200, 'another address is not limited');
  assert.equal(other.text.endsWith('a\n'), true);
  // One held connection goes: its address has a free slot again.
  held.pop()!.destroy();
  await waitFor(async () => (await limitsOf(p)).connections === 99, 10_000, 'the closed connection uncounted');
  assert.equal((await requestFrom(p.port, '127.0.0.2')).status, 200);
  const l = await limitsOf(p);
  assert.equal(l.refused.conn, 1);
  const lines = p.logs.filter((x) => x['reason'] === 'limit_conn');
  assert.equal(lines.length, 1, 'the refusal was logged');
  assert.equal(b.seen.length, 2, 'the refused request never reached the backend');
});

test('limit_conn status close: refused connections are closed without an answer', async (t) => {
  const b = await startBackend(t, 'a');
  const p = await startProxy(t, cluster(b.address, '      limit_conn: { per_client: 2, status: close }'));
  const held = [await openIdle(p.port, '127.0.0.4'), await openIdle(p.port, '127.0.0.4')];
  t.after(() => {
    for (const s of held) s.destroy();
  });
  await waitFor(async () => (await limitsOf(p)).connections === 2, 10_000, 'two counted connections');
  const r = await requestFrom(p.port, '127.0.0.4');
  assert.equal(r.status, 0);
  assert.equal(r.text, '');
  assert.ok(r.closed);
});

test('limit_req 10r/s burst 5 nodelay: the rate plus the burst pass, the rest get 429 (counted, sampled in the log)', async (t) => {
  const b = await startBackend(t, 'a');
  const p = await startProxy(t, cluster(b.address, '      limit_req: { rate: 10r/s, burst: 5, nodelay: true }'));
  let ok = 0;
  let limited = 0;
  const start = performance.now();
  let last = start;
  while (performance.now() - start < 2_000) {
    const r = await requestFrom(p.port, '127.0.0.5');
    last = performance.now();
    if (r.status === 200) ok++;
    else if (r.status === 429) {
      limited++;
      assert.ok(r.closed);
    } else assert.fail(`unexpected status ${r.status}`);
  }
  const seconds = (last - start) / 1000;
  // nginx: the first request, the burst, then one per 100 ms.
  const expected = 1 + 5 + Math.floor(10 * seconds);
  assert.ok(Math.abs(ok - expected) <= 1, `passed ${ok}, expected ${expected} (1 + burst 5 + 10/s × ${seconds.toFixed(2)} s)`);
  assert.ok(limited > 10, `refused ${limited}`);
  assert.equal(b.seen.length, ok, 'refused requests never reached the backend');
  // Another client has its own bucket.
  assert.equal((await requestFrom(p.port, '127.0.0.6')).status, 200);
  const l = await limitsOf(p);
  assert.equal(l.refused.req, limited);
  const lines = p.logs.filter((x) => x['reason'] === 'limit_req');
  assert.ok(lines.length >= 1 && lines.length <= 4, `${lines.length} log lines for ${limited} refusals (one per second at most)`);
  t.diagnostic(`limit_req: ${ok} passed, ${limited} refused in ${seconds.toFixed(2)} s; ${lines.length} log lines`);
});

test('limit_req without nodelay: burst requests are delayed to the rate, not refused', async (t) => {
  const b = await startBackend(t, 'a');
  const p = await startProxy(t, cluster(b.address, '      limit_req: { rate: 10r/s, burst: 3, status: 503 }'));
  const start = performance.now();
  const rs = await Promise.all([0, 1, 2, 3, 4].map(() => requestFrom(p.port, '127.0.0.7')));
  const statuses = rs.map((r) => r.status).toSorted();
  assert.deepEqual(statuses, [200, 200, 200, 200, 503]);
  // The third delayed one waited 300 ms (excess 3000 at 10 r/s).
  assert.ok(performance.now() - start >= 280, 'the burst was spread at the rate');
  assert.equal((await limitsOf(p)).delayed, 3);
});

test('limit_rate 512k after 256k: measured throughput within 10%', async (t) => {
  const body = Buffer.alloc(2 * 1024 * 1024, 0x61);
  const b = await startBackend(t, 'big', (_req, res) => {
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  const p = await startProxy(t, cluster(b.address, '      limit_rate: 512k\n      limit_rate_after: 256k'));
  const got = await new Promise<{ bytes: number; ms: number; afterMs: number }>((resolve, reject) => {
    const s = connect(p.port, '127.0.0.1');
    let bytes = 0;
    let t0 = 0;
    let afterMs = 0;
    s.on('connect', () => {
      t0 = performance.now();
      s.write('GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    });
    s.on('data', (c: Buffer) => {
      bytes += c.length;
      if (afterMs === 0 && bytes >= 256 * 1024) afterMs = performance.now() - t0;
    });
    s.on('close', () => resolve({ bytes, ms: performance.now() - t0, afterMs }));
    s.on('error', reject);
  });
  assert.ok(got.bytes > body.length);
  const rate = (got.bytes - 256 * 1024) / ((got.ms - got.afterMs) / 1000);
  const target = 512 * 1024;
  t.diagnostic(`limit_rate: ${(rate / 1024).toFixed(1)} KiB/s measured for 512 KiB/s; first 256 KiB in ${got.afterMs.toFixed(0)} ms, all in ${got.ms.toFixed(0)} ms`);
  assert.ok(Math.abs(rate - target) / target <= 0.1, `measured ${(rate / 1024).toFixed(1)} KiB/s, configured 512 KiB/s`);
  assert.ok(got.afterMs < 500, 'the first limit_rate_after bytes went at full speed');
});

test('the client table stays bounded under a spray of unique source addresses', async (t) => {
  const b = await startBackend(t, 'a');
  const p = await startProxy(t, cluster(b.address, '      table_size: 50\n      limit_req: { rate: 100r/s, burst: 10 }\n      limit_conn: { per_client: 10 }'));
  const n = 400;
  for (let i = 0; i < n; i += 20) {
    await Promise.all(
      Array.from({ length: 20 }, (_, k) => {
        const j = i + k;
        return requestFrom(p.port, `127.9.${Math.floor(j / 250)}.${(j % 250) + 1}`);
      }),
    );
  }
  const l = await limitsOf(p);
  assert.ok(l.clients <= 50, `table holds ${l.clients} clients, cap 50`);
  assert.ok(l.evictions >= n - 50 - 5, `evictions ${l.evictions}`);
  assert.equal(b.seen.length, n, 'every sprayed client got through');
});

test('allow / deny by CIDR (403), and the client behind a trusted proxy from X-Forwarded-For', async (t) => {
  const b = await startBackend(t, 'a');
  const p = await startProxy(t, cluster(b.address, '      deny: [127.0.0.8, 198.51.100.0/24]\n      real_ip_from: [127.0.0.10]'));
  const denied = await requestFrom(p.port, '127.0.0.8');
  assert.equal(denied.status, 403);
  assert.ok(denied.closed);
  assert.equal((await requestFrom(p.port, '127.0.0.9')).status, 200);
  assert.equal((await requestFrom(p.port, '127.0.0.10', xff('198.51.100.7'))).status, 403, 'the real client behind the trusted proxy is denied');
  assert.equal((await requestFrom(p.port, '127.0.0.10', xff('198.51.100.7, 192.0.2.1'))).status, 200, 'only the right-most untrusted entry counts');
  assert.equal((await requestFrom(p.port, '127.0.0.9', xff('198.51.100.7'))).status, 200, 'an untrusted peer cannot pick its address');
  assert.equal((await limitsOf(p)).refused.deny, 2);
});

test('body_min_rate: a body trickled a byte at a time gets 408 although each read comes within client_body', async (t) => {
  const b = await startBackend(t, 'a');
  const p = await startProxy(t, cluster(b.address, '      body_min_rate: 1k', '    timeouts: { client_body: 1s }'));
  const r = await new Promise<{ text: string; ms: number; sent: number }>((resolve, reject) => {
    const s = connect(p.port, '127.0.0.1');
    let text = '';
    let sent = 0;
    const t0 = performance.now();
    const tick = setInterval(() => {
      if (!s.destroyed) {
        s.write('a');
        sent++;
      }
    }, 300);
    s.on('connect', () => s.write('POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n'));
    s.on('data', (c: Buffer) => {
      text += c.toString('latin1');
    });
    s.on('close', () => {
      clearInterval(tick);
      resolve({ text, ms: performance.now() - t0, sent });
    });
    s.on('error', (err) => {
      clearInterval(tick);
      if (text !== '') resolve({ text, ms: performance.now() - t0, sent });
      else reject(err);
    });
  });
  assert.equal(parseRaw(r.text).status, 408);
  assert.ok(r.sent >= 3, 'several reads came, each within client_body (1 s)');
  assert.ok(r.ms < 10_000, 'dropped within about client_body, not at the end of the body');
});
