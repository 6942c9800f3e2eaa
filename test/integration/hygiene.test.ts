/**
 * Request hygiene, byte for byte on raw sockets: every malformed or ambiguous
 * request gets its status, the connection is closed, and the backend (a raw
 * recording server) receives nothing. Malformed backend responses get the client
 * a 502, the backend socket is not reused, and the daemon keeps serving.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { parseRaw, rawRequest, sleep, startProxy, waitFor } from '../helpers/http.ts';

interface Recorder {
  address: string;
  /** Bytes received since the last reset, as latin1 text. */
  received: string;
  /** Connections accepted / closed since the last reset. */
  accepted: number;
  closed: number;
  /** Backend connections open now. */
  readonly open: number;
  /** What to answer to each complete request head; default a 200 "ok". */
  answer: (head: string) => string;
  reset(): void;
}

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

/** A raw TCP backend that records every byte and answers one response per request head. */
async function recorder(t: TestContext): Promise<Recorder> {
  const sockets = new Set<Socket>();
  const r: Recorder = {
    address: '',
    received: '',
    accepted: 0,
    closed: 0,
    answer: () => OK,
    get open() {
      return sockets.size;
    },
    reset() {
      r.received = '';
      r.accepted = 0;
      r.closed = 0;
    },
  };
  const server = createServer((s) => {
    sockets.add(s);
    r.accepted++;
    let pending = '';
    s.on('data', (c: Buffer) => {
      const text = c.toString('latin1');
      r.received += text;
      pending += text;
      let i: number;
      while ((i = pending.indexOf('\r\n\r\n')) >= 0) {
        const head = pending.slice(0, i);
        pending = pending.slice(i + 4);
        s.write(r.answer(head), 'latin1');
      }
    });
    s.on('error', () => {});
    s.on('close', () => {
      r.closed++;
      sockets.delete(s);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return r;
}

function cluster(backend: string, extra = ''): string {
  return `
log: { level: warn, access: false }
services:
  www:
    listen: 127.0.0.1:0
    timeouts: { client_header: 3s, upstream_header: 3s }
    retry: { on: [] }
    backends: [ ${backend} ]
${extra}`;
}

const H = 'Host: example.test\r\n';
const many = (n: number) => Array.from({ length: n }, (_, i) => `X-H${i}: v\r\n`).join('');

/** [name, raw request, expected status] */
const BAD_REQUESTS: [string, string, number][] = [
  ['Content-Length and Transfer-Encoding', `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
  ['Transfer-Encoding then Content-Length', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n`, 400],
  ['two equal Content-Lengths', `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc`, 400],
  ['two different Content-Lengths', `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`, 400],
  ['a Content-Length list', `POST / HTTP/1.1\r\n${H}Content-Length: 3, 3\r\n\r\nabc`, 400],
  ['a non-numeric Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length: abc\r\n\r\n`, 400],
  ['a negative Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, 400],
  ['a signed Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length: +3\r\n\r\nabc`, 400],
  ['a Content-Length past 2^53', `POST / HTTP/1.1\r\n${H}Content-Length: 99999999999999999999\r\n\r\n`, 400],
  ['Transfer-Encoding: identity, chunked', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n`, 501],
  ['Transfer-Encoding: gzip', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n`, 501],
  ['Transfer-Encoding: chunked, chunked', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n`, 501],
  ['two Transfer-Encoding fields', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 501],
  ['Transfer-Encoding: xchunked', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`, 501],
  ['whitespace before the colon', `GET / HTTP/1.1\r\n${H}Content-Length : 0\r\n\r\n`, 400],
  ['a tab before the colon', `GET / HTTP/1.1\r\n${H}X-A\t: 1\r\n\r\n`, 400],
  ['NUL in a header value', `GET / HTTP/1.1\r\n${H}X-A: a\0b\r\n\r\n`, 400],
  ['NUL in a header name', `GET / HTTP/1.1\r\n${H}X\0A: 1\r\n\r\n`, 400],
  ['bare CR in a header value', `GET / HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n`, 400],
  ['bare LF inside a header value', `GET / HTTP/1.1\r\n${H}X-A: a\nX-B: b\r\n\r\n`, 400],
  ['bare LF line endings', `GET / HTTP/1.1\n${H.replace('\r\n', '\n')}\n`, 400],
  ['obs-fold', `GET / HTTP/1.1\r\n${H}X-A: a\r\n b\r\n\r\n`, 400],
  ['obs-fold with a tab', `GET / HTTP/1.1\r\n${H}X-A: a\r\n\tb\r\n\r\n`, 400],
  ['a header line without a colon', `GET / HTTP/1.1\r\n${H}X-A\r\n\r\n`, 400],
  ['an empty header name', `GET / HTTP/1.1\r\n${H}: x\r\n\r\n`, 400],
  ['a non-token header name', `GET / HTTP/1.1\r\n${H}X(A): 1\r\n\r\n`, 400],
  ['an invalid method', `G(T / HTTP/1.1\r\n${H}\r\n`, 400],
  ['an empty method', ` / HTTP/1.1\r\n${H}\r\n`, 400],
  ['a target without a slash', `GET index.html HTTP/1.1\r\n${H}\r\n`, 400],
  ['a space in the target', `GET /a b HTTP/1.1\r\n${H}\r\n`, 400],
  ['DEL in the target', `GET /a\x7f HTTP/1.1\r\n${H}\r\n`, 400],
  ['a non-ASCII target', `GET /\xe9 HTTP/1.1\r\n${H}\r\n`, 400],
  ['a bad absolute-form target', `GET ftp://x/ HTTP/1.1\r\n${H}\r\n`, 400],
  ['a missing version', `GET /\r\n${H}\r\n`, 400],
  ['HTTP/2.0 on the HTTP/1 port', `GET / HTTP/2.0\r\n${H}\r\n`, 505],
  ['two spaces in the request line', `GET  / HTTP/1.1\r\n${H}\r\n`, 400],
  ['no Host in HTTP/1.1', 'GET / HTTP/1.1\r\nX-A: 1\r\n\r\n', 400],
  ['two Host fields', `GET / HTTP/1.1\r\n${H}${H}\r\n`, 400],
  ['CONNECT (authority-form target)', `CONNECT example.test:443 HTTP/1.1\r\n${H}\r\n`, 400],
  ['101 header fields (the cap is 100)', `GET / HTTP/1.1\r\n${H}${many(100)}\r\n`, 431],
  ['one 40 KB header field (the cap is 32 KiB in all)', `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(40_000)}\r\n\r\n`, 431],
  ['a head past 32 KiB without its end', `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(40_000)}`, 431],
  ['a 5000-byte chunk extension', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1;${'e'.repeat(5_000)}\r\na\r\n0\r\n\r\n`, 400],
  ['a chunk size past 2^52', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\n`, 400],
  ['a non-hex chunk size', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\n`, 400],
  ['chunk data longer than its size', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n0\r\n\r\n`, 400],
];

test('malformed and ambiguous requests: the status, a closed connection, nothing to the backend', async (t) => {
  const rec = await recorder(t);
  const p = await startProxy(t, cluster(rec.address));
  const rows: string[] = [];
  for (const [name, bytes, want] of BAD_REQUESTS) {
    rec.reset();
    const r = await rawRequest(p.port, Buffer.from(bytes, 'latin1'), 5_000);
    const status = r.text === '' ? 0 : parseRaw(r.text).status;
    rows.push(`${status} ${name}`);
    assert.equal(status, want, `${name}: status`);
    assert.ok(r.closed, `${name}: the connection is closed`);
    assert.match(r.text, /\r\nConnection: close\r\n/i, `${name}: the answer says Connection: close`);
    await sleep(10);
    assert.equal(rec.received, '', `${name}: the backend received nothing`);
    assert.equal(rec.accepted, 0, `${name}: no backend connection was made`);
  }
  t.diagnostic(rows.join('\n'));
  // The daemon still serves.
  const ok = parseRaw((await rawRequest(p.port, `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`)).text);
  assert.equal(ok.status, 200);
});

test('header caps never truncate: 100 fields and a head just under 32 KiB go through whole', async (t) => {
  const rec = await recorder(t);
  const p = await startProxy(t, cluster(rec.address));
  const r = await rawRequest(p.port, `GET / HTTP/1.1\r\n${H}${many(98)}Connection: close\r\n\r\n`);
  assert.equal(parseRaw(r.text).status, 200);
  assert.equal(rec.received.match(/\r\nX-H\d+: v/g)?.length, 98, 'every header field reached the backend');
  rec.reset();
  const big = 'b'.repeat(32 * 1024 - 200);
  const r2 = await rawRequest(p.port, `GET / HTTP/1.1\r\n${H}X-Big: ${big}\r\nConnection: close\r\n\r\n`);
  assert.equal(parseRaw(r2.text).status, 200);
  assert.ok(rec.received.includes(`X-Big: ${big}\r\n`));
});

test('a chunk extension within bounds passes', async (t) => {
  const rec = await recorder(t);
  const p = await startProxy(t, cluster(rec.address));
  const r = await rawRequest(p.port, `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n1;name=${'e'.repeat(100)}\r\na\r\n0\r\n\r\n`);
  assert.equal(parseRaw(r.text).status, 200);
});

/** [name, raw backend response] */
const BAD_RESPONSES: [string, string][] = [
  ['garbage', 'HELLO WORLD\r\n\r\n'],
  ['Content-Length and Transfer-Encoding', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['two different Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok'],
  ['a non-numeric Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: two\r\n\r\nok'],
  ['NUL in a header', 'HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 2\r\n\r\nok'],
  ['obs-fold', 'HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok'],
  ['whitespace before the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok'],
  ['a status code of two digits', 'HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok'],
  ['a status code of 600', 'HTTP/1.1 600 OK\r\nContent-Length: 2\r\n\r\nok'],
  ['HTTP/2.0 status line', 'HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok'],
  ['bare LF line endings', 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok'],
  ['a head past 32 KiB', `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`],
  ['101 without an Upgrade request', 'HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n'],
];

test('malformed backend responses: 502 to the client, the backend socket closed and not reused, the daemon lives', async (t) => {
  const rec = await recorder(t);
  const p = await startProxy(t, cluster(rec.address));
  let bad = '';
  rec.answer = () => bad;
  for (const [name, response] of BAD_RESPONSES) {
    rec.reset();
    bad = response;
    const r = await rawRequest(p.port, `GET /x HTTP/1.1\r\n${H}\r\n`, 5_000);
    assert.equal(parseRaw(r.text).status, 502, `${name}: 502`);
    await waitFor(() => rec.open === 0, 3_000, `${name}: the backend connection closed`);
    // The next request goes on a fresh backend connection and succeeds.
    rec.reset();
    bad = OK;
    const ok = await rawRequest(p.port, `GET /y HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, 5_000);
    assert.equal(parseRaw(ok.text).status, 200, `${name}: the daemon still serves`);
    assert.equal(rec.accepted, 1, `${name}: a new backend connection (the bad one was not reused)`);
  }
});

test('response headers are cleaned of hop-by-hop fields like requests', async (t) => {
  const rec = await recorder(t);
  rec.answer = () =>
    'HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nUpgrade: h2c\r\nServer: Apache/2.4.1\r\nX-Keep: 1\r\nContent-Length: 2\r\n\r\nok';
  const p = await startProxy(t, cluster(rec.address));
  const r = parseRaw((await rawRequest(p.port, `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`)).text);
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-keep'], '1');
  for (const h of ['x-hop', 'keep-alive', 'proxy-connection', 'te', 'upgrade', 'server']) assert.equal(r.headers[h], undefined, `${h} is not passed on`);
  assert.equal(r.headers['connection'], 'close');
  assert.equal(r.body, 'ok');
});
