/**
 * The HTTP load balancer against real backends on 127.0.0.1: what a user of
 * nginx's `upstream` would check first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, Agent } from 'node:http';
import { WebSocketServer } from 'ws';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRaw, rawRequest, request, sleep, startBackend, startProxy, waitFor, type Backend } from '../helpers/http.ts';

function cluster(backends: string, extra = ''): string {
  return `
log: { level: debug, access: true }
services:
  www:
    listen: 127.0.0.1:0
    backends:
${backends}
${extra}`;
}

function list(bs: Backend[], attrs: (b: Backend, i: number) => string = () => ''): string {
  return bs.map((b, i) => `      - { address: ${b.address}${attrs(b, i)} }`).join('\n');
}

test('weighted distribution follows the weights (swrr 3:2:1)', async (t) => {
  const bs = await Promise.all(['a', 'b', 'c'].map((n) => startBackend(t, n)));
  const p = await startProxy(t, cluster(list(bs, (_b, i) => `, weight: ${3 - i}`)));
  const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
  for (let i = 0; i < 600; i++) {
    const r = await request(`${p.url}/x`);
    assert.equal(r.status, 200);
    counts[r.body.trim()]!++;
  }
  // Smooth weighted round robin is exact over every full cycle of 6.
  assert.deepEqual(counts, { a: 300, b: 200, c: 100 });
});

test('round robin, forwarding headers, hop-by-hop removal and no version in responses', async (t) => {
  const b = await startBackend(t, 'a', (req, res) => {
    const body = JSON.stringify(req.headers);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), server: 'Apache/2.4.1 (Unix)', 'x-secret-hop': 'x', connection: 'x-secret-hop', 'keep-alive': 'timeout=5' });
    res.end(body);
  });
  const p = await startProxy(t, cluster(list([b]), `    scheduler: rr\n    headers: { via: edge }`));
  const raw = await rawRequest(
    p.port,
    'GET /h?q=1 HTTP/1.1\r\nHost: example.test\r\nConnection: close, X-Drop-Me\r\nX-Drop-Me: 1\r\nKeep-Alive: 300\r\nTE: trailers\r\nX-Forwarded-For: 203.0.113.9\r\nX-Keep: yes\r\n\r\n',
  );
  const r = parseRaw(raw.text);
  assert.equal(r.status, 200);
  const seen = JSON.parse(r.body) as Record<string, string>;
  assert.equal(seen['x-keep'], 'yes');
  assert.equal(seen['x-drop-me'], undefined, 'a field named in Connection is hop-by-hop');
  assert.equal(seen['te'], undefined);
  assert.equal(seen['keep-alive'], undefined);
  assert.equal(seen['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
  assert.equal(seen['x-forwarded-proto'], 'http');
  assert.equal(seen['x-forwarded-host'], 'example.test');
  assert.equal(seen['host'], 'example.test');
  assert.equal(seen['via'], '1.1 edge');
  assert.equal(r.headers['server'], undefined, 'the backend Server header (with its version) is not passed on');
  assert.equal(r.headers['x-secret-hop'], undefined);
  assert.equal(r.headers['keep-alive'], undefined);
  assert.equal(r.headers['via'], '1.1 edge');
  assert.equal(r.headers['connection'], 'close');
  assert.ok(raw.closed, 'Connection: close from the client closes the connection');
});

test('keep-alive to clients and pooled connections to the backend', async (t) => {
  const conns = new Set<unknown>();
  const b = await startBackend(t, 'a');
  b.server.on('connection', (s) => conns.add(s));
  const p = await startProxy(t, cluster(list([b])));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const clientSockets = new Set<unknown>();
  for (let i = 0; i < 20; i++) {
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${p.url}/k${i}`, { agent }, (res) => {
        clientSockets.add(req.socket);
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
  }
  assert.equal(clientSockets.size, 1, 'one client connection carried all requests');
  assert.equal(conns.size, 1, 'one pooled backend connection carried all requests');
  assert.equal(b.seen.length, 20);
});

test('request and response bodies stream, chunked both ways, and HEAD has no body', async (t) => {
  const b = await startBackend(t, 'a', (req, res, body) => {
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-length': '1234' });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }); // no length: chunked
    res.write(`got ${body.length} bytes;`);
    setTimeout(() => res.end(` te=${req.headers['transfer-encoding'] ?? 'none'}`), 20);
  });
  const p = await startProxy(t, cluster(list([b])));
  const raw = await rawRequest(
    p.port,
    'POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n',
  );
  const r = parseRaw(raw.text);
  assert.equal(r.status, 200);
  assert.equal(r.headers['transfer-encoding'], 'chunked');
  assert.match(r.body, /got 11 bytes;/);
  assert.match(r.body, /te=chunked/);
  assert.equal(b.seen[0]!.body, 'hello world');
  const head = await rawRequest(p.port, 'HEAD /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const hr = parseRaw(head.text);
  assert.equal(hr.status, 200);
  assert.equal(hr.headers['content-length'], '1234');
  assert.equal(hr.body, '');
  // An HTTP/1.0 client gets the chunked response de-chunked, delimited by close.
  const old = await rawRequest(p.port, 'GET /old HTTP/1.0\r\nHost: x\r\n\r\n');
  const or = parseRaw(old.text);
  assert.equal(or.headers['transfer-encoding'], undefined);
  assert.equal(or.body, 'got 0 bytes; te=none');
  assert.ok(old.closed);
});

test('a large body streams through without being buffered whole', async (t) => {
  const size = 32 * 1024 * 1024;
  const b = await startBackend(t, 'a', (_req, res, body) => {
    res.writeHead(200, { 'content-length': String(body.length) });
    res.end(body);
  });
  const p = await startProxy(t, cluster(list([b])));
  const payload = Buffer.alloc(size, 0x61);
  const r = await fetch(`${p.url}/big`, { method: 'PUT', body: payload });
  const got = Buffer.from(await r.arrayBuffer());
  assert.equal(r.status, 200);
  assert.equal(got.length, size);
  assert.ok(got.equals(payload));
});

test('Expect: 100-continue is relayed from the backend', async (t) => {
  const b = await startBackend(t, 'a', (_req, res, body) => {
    res.writeHead(201, { 'content-length': String(body.length) });
    res.end(body);
  });
  const p = await startProxy(t, cluster(list([b])));
  const { connect } = await import('node:net');
  const s = connect(p.port, '127.0.0.1');
  t.after(() => s.destroy());
  let text = '';
  s.setEncoding('latin1');
  s.on('data', (d: string) => (text += d));
  s.write('PUT /c HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n');
  await waitFor(() => text.includes('100 Continue'), 3_000, '100 Continue');
  assert.ok(!text.includes('201'), 'the final response waits for the body');
  s.write('data');
  await waitFor(() => text.includes('\r\n\r\ndata'), 3_000, 'final response');
  assert.match(text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 /);
});

test('a killed backend under continuous GET load causes zero failed client requests', async (t) => {
  const bs = await Promise.all(['a', 'b', 'c'].map((n) => startBackend(t, n)));
  const p = await startProxy(t, cluster(list(bs)));
  let ok = 0;
  let failed = 0;
  const after: string[] = [];
  let killed = false;
  const worker = async () => {
    for (let i = 0; i < 150; i++) {
      try {
        const r = await request(`${p.url}/load`);
        if (r.status === 200) ok++;
        else failed++;
        if (killed) after.push(r.body.trim());
      } catch {
        failed++;
      }
    }
  };
  const load = Promise.all([worker(), worker(), worker(), worker()]);
  await waitFor(() => ok > 100, 10_000, 'load to start');
  // Kill b: close its listener and reset every open connection, as a crash would.
  bs[1]!.server.close();
  bs[1]!.server.closeAllConnections();
  killed = true;
  await load;
  assert.equal(failed, 0, 'no client request failed');
  assert.equal(ok, 600);
  assert.ok(!after.slice(20).includes('b'), 'no request reached the dead backend after it died');
  const st = await p.daemon.status();
  const dead = st.services[0]!.backends.find((x) => x.id === bs[1]!.address)!;
  assert.equal(dead.status, 'down', 'passive marking took it out (max_fails 1, fail_timeout 10s)');
});

test('a POST is not retried once its body went out; with non_idempotent it is', async (t) => {
  // The first backend accepts the request, reads it, then dies without answering.
  const dying = await startBackend(t, 'dying', (req, res) => {
    req.socket.destroy();
    void res;
  });
  const good = await startBackend(t, 'good');
  const p = await startProxy(t, cluster(list([dying, good]), '    scheduler: rr\n    passive: { max_fails: 0 }'));
  const r = await request(`${p.url}/order`, { method: 'POST', body: 'pay=1' });
  assert.equal(r.status, 502);
  assert.equal(dying.seen.length, 1);
  assert.equal(good.seen.length, 0, 'the POST was not sent again');
  // A GET in the same situation goes to the next backend.
  const g = await request(`${p.url}/page`);
  const g2 = g.body.trim() === 'good' ? g : await request(`${p.url}/page`);
  assert.equal(g2.status, 200);
  assert.equal(g2.body.trim(), 'good');

  const p2 = await startProxy(t, cluster(list([dying, good]), '    scheduler: rr\n    passive: { max_fails: 0 }\n    retry: { non_idempotent: true }'));
  const before = good.seen.length;
  const r2 = await request(`${p2.url}/order`, { method: 'POST', body: 'pay=2' });
  const r3 = r2.status === 200 ? r2 : await request(`${p2.url}/order`, { method: 'POST', body: 'pay=2' });
  assert.equal(r3.status, 200);
  assert.equal(good.seen.at(-1)!.body, 'pay=2', 'the body was re-sent intact');
  assert.ok(good.seen.length > before);
});

test('a POST whose backend refuses the connection goes to the next one (nothing was sent)', async (t) => {
  const dead = await startBackend(t, 'dead');
  await dead.close();
  const good = await startBackend(t, 'good');
  const p = await startProxy(t, cluster(list([dead, good]), '    scheduler: rr'));
  for (let i = 0; i < 4; i++) {
    const r = await request(`${p.url}/order`, { method: 'POST', body: `n=${i}` });
    assert.equal(r.status, 200);
    assert.equal(r.body.trim(), 'good');
  }
  assert.deepEqual(good.seen.map((s) => s.body), ['n=0', 'n=1', 'n=2', 'n=3']);
});

test('backup takes over only when every primary is down and gives back when one returns', async (t) => {
  const prim = await startBackend(t, 'primary');
  const primPort = prim.port;
  const backup = await startBackend(t, 'backup');
  const p = await startProxy(t, cluster(`      - { address: ${prim.address} }\n      - { address: ${backup.address}, backup: true }`, '    passive: { max_fails: 1, fail_timeout: 1s }'));
  for (let i = 0; i < 5; i++) assert.equal((await request(`${p.url}/`)).body.trim(), 'primary');
  await prim.close();
  for (let i = 0; i < 5; i++) {
    const r = await request(`${p.url}/`);
    assert.equal(r.status, 200);
    assert.equal(r.body.trim(), 'backup');
  }
  await startBackend(t, 'primary', undefined, primPort);
  await sleep(1_100); // fail_timeout passes
  await waitFor(async () => (await request(`${p.url}/`)).body.trim() === 'primary', 3_000, 'primary back');
  for (let i = 0; i < 5; i++) assert.equal((await request(`${p.url}/`)).body.trim(), 'primary');
});

test('all backends down: 503 with the configured error page, which names no software', async (t) => {
  const b = await startBackend(t, 'a');
  const b2 = await startBackend(t, 'b');
  await b.close();
  await b2.close();
  const p0 = await startProxy(t, cluster(list([b, b2]), '    passive: { max_fails: 1, max_ejection_percent: 100 }'));
  const builtin = await request(`${p0.url}/`);
  assert.equal(builtin.status, 502, 'both backends refused: bad gateway');
  const again = await request(`${p0.url}/`);
  assert.equal(again.status, 503, 'then both are ejected: no usable backend');
  assert.match(again.body, /503 Service Unavailable/);
  assert.doesNotMatch(again.body, /palisade|node|version|\d+\.\d+\.\d+/i);
  assert.equal(again.headers['server'], undefined);

  const pageDir = await mkdtemp(join(tmpdir(), 'palisade-page-'));
  t.after(() => rm(pageDir, { recursive: true, force: true }));
  await writeFile(join(pageDir, 'sorry.html'), '<h1>We will be right back</h1>');
  const p = await startProxy(t, cluster(`      - { address: ${b.address}, down: true }`, `    error_page: ${join(pageDir, 'sorry.html')}`));
  const r = await request(`${p.url}/`);
  assert.equal(r.status, 503);
  assert.equal(r.body, '<h1>We will be right back</h1>');
});

test('a WebSocket echo works through the proxy', async (t) => {
  const b = await startBackend(t, 'ws');
  const wss = new WebSocketServer({ server: b.server });
  wss.on('connection', (ws) => ws.on('message', (m, isBinary) => ws.send(isBinary ? m : `echo: ${String(m)}`)));
  t.after(() => wss.close());
  const p = await startProxy(t, cluster(list([b])));
  const ws = new WebSocket(`ws://127.0.0.1:${p.port}/chat`);
  const got: string[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => {
      ws.send('one');
      ws.send('two');
    });
    ws.addEventListener('message', (e) => {
      got.push(String(e.data));
      if (got.length === 2) resolve();
    });
    ws.addEventListener('error', () => reject(new Error('websocket error')));
  });
  ws.close();
  assert.deepEqual(got, ['echo: one', 'echo: two']);
  // The upgrade request carried the hop-by-hop Upgrade headers to the backend.
  const status = await p.daemon.status();
  assert.equal(status.services[0]!.backends[0]!.requests, 1);
});

test('malformed requests get 400 and a closed connection; the daemon lives and forwards nothing', async (t) => {
  const b = await startBackend(t, 'a');
  const p = await startProxy(t, cluster(list([b])));
  const bad: [string, number][] = [
    ['GARBAGE\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', 400],
    ['GET / HTTP/1.1\r\nHost : x\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\n\r\n', 400],
    ['POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n', 501],
    ['GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n', 400],
    [`GET / HTTP/1.1\r\nHost: x\r\n${'X-A: 1\r\n'.repeat(150)}\r\n`, 431],
    ['POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400],
  ];
  for (const [bytes, status] of bad) {
    const r = await rawRequest(p.port, bytes);
    assert.equal(parseRaw(r.text).status, status, JSON.stringify(bytes.slice(0, 60)));
    assert.ok(r.closed, `connection closed after ${JSON.stringify(bytes.slice(0, 40))}`);
  }
  assert.equal(b.seen.filter((s) => s.method !== 'POST').length, 0, 'nothing malformed reached the backend');
  const ok = await request(`${p.url}/still-alive`);
  assert.equal(ok.status, 200);
});

test('a backend that closes mid-response or answers garbage does not crash the daemon', async (t) => {
  const { createServer } = await import('node:net');
  const mode = { value: 'cut' };
  const srv = createServer((s) => {
    s.once('data', () => {
      if (mode.value === 'cut') s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-part');
      else if (mode.value === 'garbage') s.end('SSH-2.0-OpenSSH\r\n\r\n');
      else s.destroy();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => srv.close());
  const port = (srv.address() as { port: number }).port;
  const p = await startProxy(t, cluster(`      - 127.0.0.1:${port}`, '    passive: { max_fails: 0 }'));
  const cut = await rawRequest(p.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.ok(cut.closed, 'the client sees the connection close (truncated response)');
  assert.match(cut.text, /only-part$/);
  mode.value = 'garbage';
  assert.equal((await request(`${p.url}/`)).status, 502);
  mode.value = 'reset';
  assert.equal((await request(`${p.url}/`)).status, 502);
  mode.value = 'cut';
  const again = await rawRequest(p.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(again.text, /^HTTP\/1\.1 200/);
});

test('an unresponsive backend times out with 504 and the next one answers', async (t) => {
  const { createServer } = await import('node:net');
  const hang = createServer(() => undefined); // accepts, never answers
  await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
  t.after(() => {
    hang.close();
  });
  const hangPort = (hang.address() as { port: number }).port;
  const good = await startBackend(t, 'good');
  const p = await startProxy(
    t,
    cluster(`      - 127.0.0.1:${hangPort}`, '    timeouts: { upstream_header: 300ms }\n    passive: { max_fails: 0 }'),
  );
  const started = Date.now();
  const r = await request(`${p.url}/`);
  assert.equal(r.status, 504);
  assert.ok(Date.now() - started < 2_000);
  const p2 = await startProxy(
    t,
    cluster(`      - 127.0.0.1:${hangPort}\n      - ${good.address}`, '    scheduler: rr\n    timeouts: { upstream_header: 300ms }'),
  );
  for (let i = 0; i < 3; i++) assert.equal((await request(`${p2.url}/`)).body.trim(), 'good');
});

test('a client that sends half a head is dropped after client_header timeout with 408', async (t) => {
  const b = await startBackend(t, 'a');
  const p = await startProxy(t, cluster(list([b]), '    timeouts: { client_header: 300ms }'));
  const started = Date.now();
  const r = await rawRequest(p.port, 'GET / HTTP/1.1\r\nHost: x\r\n', 5_000);
  assert.ok(r.closed);
  assert.equal(parseRaw(r.text).status, 408);
  assert.ok(Date.now() - started < 1_500, 'enforced promptly');
});

test('reload with a broken file keeps the old config serving', async (t) => {
  const b = await startBackend(t, 'a');
  const p = await startProxy(t, cluster(list([b])), { controlSocket: true });
  await p.rewrite('services:\n  www:\n    listen: 127.0.0.1:0\n    backends: []\n');
  const r = await p.daemon.reload();
  assert.equal(r.ok, false);
  assert.match(r.errors.join('\n'), /cluster\.yaml:4:\d+: services\.www\.backends: expected at least one backend/);
  assert.equal((await request(`${p.url}/`)).body.trim(), 'a');
  assert.ok(p.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('reload refused')));
});

test('reload with a good file loses no in-flight request and keeps unchanged backends', async (t) => {
  const slow = await startBackend(t, 'slow', (_req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-length': '5' });
      res.end('slow\n');
    }, 300);
  });
  const other = await startBackend(t, 'other');
  const p = await startProxy(t, cluster(list([slow])));
  const inflight = Array.from({ length: 10 }, () => request(`${p.url}/`));
  await sleep(50);
  await p.rewrite(cluster(list([slow, other])));
  const r = await p.daemon.reload();
  assert.ok(r.ok, r.errors.join('; '));
  const results = await Promise.all(inflight);
  assert.deepEqual(results.map((x) => x.status), Array(10).fill(200));
  const st = await p.daemon.status();
  const s = st.services[0]!.backends.find((x) => x.id === slow.address)!;
  assert.equal(s.requests, 10, 'the unchanged backend kept its counters');
  const names = new Set<string>();
  for (let i = 0; i < 6; i++) names.add((await request(`${p.url}/`)).body.trim());
  assert.deepEqual([...names].toSorted(), ['other', 'slow']);
});

test('pipelined requests are answered in order', async (t) => {
  const b = await startBackend(t, 'a', (req, res) => {
    res.writeHead(200, { 'content-length': String(req.url!.length) });
    res.end(req.url);
  });
  const p = await startProxy(t, cluster(list([b])));
  const raw = await rawRequest(p.port, 'GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\nGET /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const bodies = [...raw.text.matchAll(/\r\n\r\n(\/[a-z]+)/g)].map((m) => m[1]);
  assert.deepEqual(bodies, ['/one', '/two', '/three']);
});

test('an access log line per request names method, path, status, bytes, backend and times', async (t) => {
  const b = await startBackend(t, 'a');
  const p = await startProxy(t, cluster(list([b])));
  await request(`${p.url}/logged?x=1`);
  const line = p.logs.find((l) => l.type === 'access' && l.path === '/logged?x=1');
  assert.ok(line, 'access line present');
  assert.equal(line.method, 'GET');
  assert.equal(line.status, 200);
  assert.equal(line.backend, b.address);
  assert.ok(typeof line.bytes === 'number' && line.bytes > 0);
  assert.ok(typeof line.upstream_ms === 'number');
  assert.ok(typeof line.total_ms === 'number');
});

test('a client that stops reading is dropped after the send timeout, and the backend request is aborted', async (t) => {
  let backendClosed = false;
  const b = await startBackend(t, 'big', (req, res) => {
    req.socket.on('close', () => (backendClosed = true));
    res.writeHead(200, { 'content-length': String(1024 * 1024 * 1024) });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const pump = () => {
      while (res.write(chunk)) {
        /* until the socket pushes back */
      }
    };
    res.on('drain', pump);
    pump();
  });
  const p = await startProxy(t, cluster(list([b]), '    timeouts: { send: 300ms }'));
  const { connect } = await import('node:net');
  const s = connect(p.port, '127.0.0.1');
  t.after(() => s.destroy());
  s.on('error', () => undefined);
  s.on('connect', () => {
    s.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
    s.pause(); // never read
  });
  await waitFor(() => backendClosed, 5_000, 'backend request aborted');
  const st = await p.daemon.status();
  assert.equal(st.services[0]!.backends[0]!.active, 0, 'the upstream slot was released');
});

test('large responses arrive intact to slow and fast readers at once (chunked and with a length)', async (t) => {
  const { randomBytes, createHash } = await import('node:crypto');
  const payload = randomBytes(6 * 1024 * 1024);
  const digest = createHash('sha256').update(payload).digest('hex');
  const b = await startBackend(t, 'big', (req, res) => {
    const chunked = req.url === '/chunked';
    res.writeHead(200, chunked ? {} : { 'content-length': String(payload.length) });
    let off = 0;
    const pump = () => {
      while (off < payload.length) {
        const n = Math.min(100_000 + Math.floor(Math.random() * 50_000), payload.length - off);
        const ok = res.write(payload.subarray(off, off + n));
        off += n;
        if (!ok) return;
      }
      res.end();
    };
    res.on('drain', pump);
    pump();
  });
  const p = await startProxy(t, cluster(list([b]), '    keepalive: { max_idle: 2 }'));
  const { connect } = await import('node:net');
  const fetchSlowly = (path: string, slow: boolean) =>
    new Promise<string>((resolve, reject) => {
      const s = connect(p.port, '127.0.0.1');
      const parts: Buffer[] = [];
      s.on('connect', () => s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
      s.on('data', (d: Buffer) => {
        parts.push(d);
        if (slow && Math.random() < 0.2) {
          s.pause();
          setTimeout(() => s.resume(), 5);
        }
      });
      s.on('error', reject);
      s.on('close', () => {
        const all = Buffer.concat(parts);
        const end = all.indexOf('\r\n\r\n');
        const head = all.subarray(0, end).toString('latin1');
        let body = all.subarray(end + 4);
        if (/transfer-encoding: chunked/i.test(head)) {
          const out: Buffer[] = [];
          let i = 0;
          for (;;) {
            const nl = body.indexOf('\r\n', i);
            const size = parseInt(body.subarray(i, nl).toString('latin1'), 16);
            if (size === 0) break;
            out.push(body.subarray(nl + 2, nl + 2 + size));
            i = nl + 2 + size + 2;
          }
          body = Buffer.concat(out);
        }
        resolve(createHash('sha256').update(body).digest('hex'));
      });
    });
  const results = await Promise.all([
    fetchSlowly('/length', true),
    fetchSlowly('/chunked', true),
    fetchSlowly('/length', false),
    fetchSlowly('/chunked', false),
    fetchSlowly('/length', true),
  ]);
  assert.deepEqual(results, Array(5).fill(digest));
});
