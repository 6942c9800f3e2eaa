/**
 * Schedulers, persistence, sticky cookies and the max_conns queue, through the real
 * HTTP proxy with real backends on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request, sleep, startBackend, startProxy, waitFor, type Backend } from '../helpers/http.ts';

function cluster(bs: Backend[], extra: string, attrs: (i: number) => string = () => ''): string {
  return `
log: { level: warn, access: false }
services:
  www:
    listen: 127.0.0.1:0
    backends:
${bs.map((b, i) => `      - { address: ${b.address}${attrs(i)} }`).join('\n')}
${extra}`;
}

test('wrr follows the LVS interleaving 4:3:2 through the proxy', async (t) => {
  const bs = await Promise.all(['A', 'B', 'C'].map((n) => startBackend(t, n)));
  const p = await startProxy(t, cluster(bs, '    scheduler: wrr', (i) => `, weight: ${[4, 3, 2][i]}`));
  let seq = '';
  for (let i = 0; i < 18; i++) seq += (await request(`${p.url}/`)).body.trim();
  assert.equal(seq, 'AABABCABCAABABCABC');
});

test('hash on $request_uri sends the same URI to the same backend; consistent hashing moves few keys when one leaves', async (t) => {
  const bs = await Promise.all(['a', 'b', 'c', 'd'].map((n) => startBackend(t, n)));
  const p = await startProxy(t, cluster(bs, '    scheduler: { name: hash, key: $request_uri, consistent: true }'));
  const first = new Map<string, string>();
  for (let i = 0; i < 60; i++) first.set(`/item/${i}`, (await request(`${p.url}/item/${i}`)).body.trim());
  for (let i = 0; i < 60; i++) assert.equal((await request(`${p.url}/item/${i}`)).body.trim(), first.get(`/item/${i}`));
  assert.ok(new Set(first.values()).size >= 3, 'keys spread over the backends');
  // Take d out (operator: down in the file) and reload: only d's keys move.
  await p.rewrite(cluster(bs, '    scheduler: { name: hash, key: $request_uri, consistent: true }', (i) => (i === 3 ? ', down: true' : '')));
  assert.ok((await p.daemon.reload()).ok);
  let moved = 0;
  for (let i = 0; i < 60; i++) {
    const now = (await request(`${p.url}/item/${i}`)).body.trim();
    if (first.get(`/item/${i}`) !== 'd') assert.equal(now, first.get(`/item/${i}`), 'a key of a remaining backend stays');
    else moved++;
    assert.notEqual(now, 'd');
  }
  assert.ok(moved < 30);
});

test('source-IP persistence keeps a client on its backend and moves it when that backend fails', async (t) => {
  const bs = await Promise.all(['a', 'b', 'c'].map((n) => startBackend(t, n)));
  const p = await startProxy(t, cluster(bs, '    scheduler: rr\n    persistence: { timeout: 60s }'));
  const first = (await request(`${p.url}/`)).body.trim();
  for (let i = 0; i < 10; i++) assert.equal((await request(`${p.url}/`)).body.trim(), first, 'rr alone would rotate; persistence keeps it');
  const mine = bs.find((b) => b.name === first)!;
  await mine.close();
  const next = (await request(`${p.url}/`)).body.trim();
  assert.notEqual(next, first);
  for (let i = 0; i < 5; i++) assert.equal((await request(`${p.url}/`)).body.trim(), next, 'the new choice is remembered');
  // A reload with unchanged backends keeps the table.
  assert.ok((await p.daemon.reload()).ok);
  assert.equal((await request(`${p.url}/`)).body.trim(), next);
});

test('a sticky cookie names the backend opaquely and brings the client back to it', async (t) => {
  const bs = await Promise.all(['a', 'b', 'c'].map((n) => startBackend(t, n)));
  const p = await startProxy(t, cluster(bs, '    scheduler: rr\n    sticky: { cookie: SRV }'));
  const r1 = await request(`${p.url}/`);
  const setCookie = r1.headers['set-cookie'];
  assert.ok(setCookie, 'first response sets the cookie');
  assert.match(setCookie, /^SRV=[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Lax$/);
  assert.ok(!setCookie.includes('127.0.0.1') && !bs.some((b) => setCookie.includes(String(b.port))), 'the cookie does not carry the address');
  const cookie = setCookie.split(';')[0]!;
  for (let i = 0; i < 6; i++) {
    const r = await request(`${p.url}/`, { headers: { cookie: `theme=dark; ${cookie}` } });
    assert.equal(r.body, r1.body);
    assert.equal(r.headers['set-cookie'], undefined, 'no new cookie while it names the right backend');
  }
  // Without the cookie, rr moves on.
  const other = await request(`${p.url}/`);
  assert.notEqual(other.body, r1.body);
});

test('max_conns: excess requests wait in the queue and get 503 after queue.timeout', async (t) => {
  const b = await startBackend(t, 'slow', (_req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-length': '3' });
      res.end('ok\n');
    }, 300);
  });
  const p = await startProxy(t, cluster([b], '    queue: { max_length: 10, timeout: 450ms }', () => ', max_conns: 1'));
  const started = Date.now();
  const results = await Promise.all(Array.from({ length: 3 }, () => request(`${p.url}/`)));
  const statuses = results.map((r) => r.status).toSorted();
  // One runs at once: the first answers at ~300 ms, the second (queued) at ~600 ms,
  // the third has waited 450 ms by then... it times out unless it got the slot first.
  assert.ok(statuses.filter((s) => s === 200).length >= 2, `statuses ${statuses}`);
  assert.ok(statuses.every((s) => s === 200 || s === 503), `statuses ${statuses}`);
  assert.ok(Date.now() - started < 3_000);
  let peak = 0;
  const load = Array.from({ length: 4 }, () => request(`${p.url}/`));
  await waitFor(async () => {
    const st = await p.daemon.status();
    peak = Math.max(peak, st.services[0]!.backends[0]!.active ?? 0);
    return peak > 0;
  });
  await Promise.all(load);
  assert.equal(peak, 1, 'never more than max_conns in flight');
});

test('status reports active and inactive (idle pooled) connections per backend', async (t) => {
  const b = await startBackend(t, 'slow', (_req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-length': '3' });
      res.end('ok\n');
    }, 200);
  });
  const p = await startProxy(t, cluster([b], ''));
  const inflight = Promise.all(Array.from({ length: 3 }, () => request(`${p.url}/`)));
  await sleep(100);
  let st = await p.daemon.status();
  assert.equal(st.services[0]!.backends[0]!.active, 3);
  await inflight;
  st = await p.daemon.status();
  assert.equal(st.services[0]!.backends[0]!.active, 0);
  assert.equal(st.services[0]!.backends[0]!.inactive, 3, 'three pooled keep-alive connections');
});
