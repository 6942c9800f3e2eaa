import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, BODY_UNTIL_CLOSE, findHeadEnd, HeadError, parseRequestHead, parseResponseHead } from './parse.ts';

const limits = { maxHeaders: 100 };

function req(text: string) {
  const buf = Buffer.from(text, 'latin1');
  const end = findHeadEnd(buf, 0);
  assert.ok(end > 0, 'head end found');
  return parseRequestHead(buf, 0, end, limits);
}

function reqError(text: string): number {
  try {
    req(text);
  } catch (err) {
    assert.ok(err instanceof HeadError);
    return err.status;
  }
  assert.fail(`accepted: ${JSON.stringify(text)}`);
}

test('a request head: method, target, version, framing and connection', () => {
  const h = req('POST /a?b=1 HTTP/1.1\r\nHost: example.test\r\nContent-Length: 12\r\nConnection: keep-alive, X-Foo\r\n\r\n');
  assert.equal(h.method, 'POST');
  assert.equal(h.target, '/a?b=1');
  assert.equal(h.minor, 1);
  assert.equal(h.host, 'example.test');
  assert.equal(h.bodyKind, BODY_LENGTH);
  assert.equal(h.contentLength, 12);
  assert.equal(h.close, false);
  assert.deepEqual(h.connectionTokens, ['keep-alive', 'x-foo']);
  assert.deepEqual(h.lines, ['Host: example.test', 'Content-Length: 12', 'Connection: keep-alive, X-Foo']);
});

test('HTTP/1.0 closes unless keep-alive; 1.1 Connection: close closes', () => {
  assert.equal(req('GET / HTTP/1.0\r\n\r\n').close, true);
  assert.equal(req('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n').close, false);
  assert.equal(req('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n').close, true);
});

test('absolute-form target becomes origin-form and its authority the host', () => {
  const h = req('GET http://other.test:8080/p?q HTTP/1.1\r\nHost: ignored\r\n\r\n');
  assert.equal(h.target, '/p?q');
  assert.equal(h.host, 'other.test:8080');
});

test('chunked and upgrade requests', () => {
  const c = req('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
  assert.equal(c.bodyKind, BODY_CHUNKED);
  const u = req('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
  assert.equal(u.upgrade, 'websocket');
  const noUp = req('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n');
  assert.equal(noUp.upgrade, '', 'Upgrade not named in Connection is ignored');
  assert.equal(req('GET / HTTP/1.1\r\nHost: x\r\n\r\n').bodyKind, BODY_NONE);
});

test('ambiguous or malformed request heads are refused with the right status', () => {
  const table: [string, number][] = [
    ['GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity, chunked\r\n\r\n', 501],
    ['GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', 501],
    ['GET / HTTP/1.1\r\nHost : x\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: x\r\n  folded\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: x\r\nA: b\0c\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: x\r\nA: b\rc\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: x\r\nA: b\nc: d\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
    ['GET  / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505],
    ['G(T / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['GET foo HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nNoColon\r\n\r\n', 400],
    [`GET / HTTP/1.1\r\n${'A: 1\r\n'.repeat(101)}\r\n`, 431],
  ];
  for (const [text, status] of table) assert.equal(reqError(text), status, JSON.stringify(text));
});

function res(text: string, method = 'GET') {
  const buf = Buffer.from(text, 'latin1');
  return parseResponseHead(buf, 0, findHeadEnd(buf, 0), limits, method);
}

test('response framing: length, chunked, until close, and no body for HEAD/1xx/204/304', () => {
  assert.equal(res('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n').bodyKind, BODY_LENGTH);
  assert.equal(res('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n').bodyKind, BODY_CHUNKED);
  assert.equal(res('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n').bodyKind, BODY_CHUNKED);
  const close = res('HTTP/1.1 200 OK\r\n\r\n');
  assert.equal(close.bodyKind, BODY_UNTIL_CLOSE);
  assert.equal(close.close, true);
  assert.equal(res('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n', 'HEAD').bodyKind, BODY_NONE);
  assert.equal(res('HTTP/1.1 204 No Content\r\n\r\n').bodyKind, BODY_NONE);
  assert.equal(res('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n').bodyKind, BODY_NONE);
  assert.equal(res('HTTP/1.1 100 Continue\r\n\r\n').bodyKind, BODY_NONE);
  const r = res('HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n');
  assert.equal(r.status, 404);
  assert.equal(r.reason, 'Not Found');
  assert.equal(r.close, true, 'HTTP/1.0 response closes');
});

test('malformed responses are refused as 502', () => {
  for (const text of ['HTTP/1.1 2000 OK\r\n\r\n', 'HTTP/9.9 200 OK\r\n\r\n', 'SSH-2.0\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 'HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n']) {
    assert.throws(() => res(text), (e: unknown) => e instanceof HeadError && e.status === 502, JSON.stringify(text));
  }
});

test('findHeadEnd resumes a search across reads', () => {
  const a = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r');
  assert.equal(findHeadEnd(a, 0), -1);
  const b = Buffer.concat([a, Buffer.from('\nrest')]);
  assert.equal(findHeadEnd(b, a.length), a.length + 1);
});
