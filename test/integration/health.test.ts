/**
 * Health checking through the whole daemon: active checks take backends out of and
 * back into rotation, passive detection and its cap, agent drain, exec weights,
 * quorum and the sorry server, operator actions. Real backends on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { request, sleep, startBackend, startProxy, waitFor, type Backend } from '../helpers/http.ts';

function cluster(bs: Backend[], extra: string, attrs: (i: number) => string = () => ''): string {
  return `
log: { level: info, access: false }
services:
  www:
    listen: 127.0.0.1:0
    scheduler: rr
    backends:
${bs.map((b, i) => `      - { address: ${b.address}${attrs(i)} }`).join('\n')}
${extra}`;
}

/** A backend whose /health answers `healthStatus.value` and whose other paths answer its name. */
async function switchable(t: import('node:test').TestContext, name: string) {
  const state = { health: 200 };
  const b = await startBackend(t, name, (req, res, _body, self) => {
    if (req.url === '/health') {
      res.writeHead(state.health, { 'content-length': '0' });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-length': String(self.name.length) });
    res.end(self.name);
  });
  return { b, state };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

async function backendState(p: Awaited<ReturnType<typeof startProxy>>, id: string): Promise<string> {
  const st = await p.daemon.status();
  return st.services[0]!.backends.find((b) => b.id === id)!.status;
}

test('a backend answering 503 leaves rotation after fall checks and returns after rise checks', async (t) => {
  const a = await switchable(t, 'a');
  const b = await switchable(t, 'b');
  const p = await startProxy(t, cluster([a.b, b.b], '    health: { type: http, path: /health, interval: 100ms, timeout: 500ms, rise: 2, fall: 3, jitter: 0 }'));
  await waitFor(async () => (await p.daemon.status()).services[0]!.backends.every((x) => x.check?.last === 'L7_OK 200'), 3_000, 'first checks');
  b.state.health = 503;
  const t0 = Date.now();
  await waitFor(async () => (await backendState(p, b.b.address)) === 'down', 3_000, 'b down');
  const downAfter = Date.now() - t0;
  assert.ok(downAfter < 1_500, `down after ${downAfter} ms (fall 3 x 100 ms)`);
  const st = await p.daemon.status();
  assert.match(st.services[0]!.backends[1]!.check!.last!, /L7_STATUS 503/);
  for (let i = 0; i < 6; i++) assert.equal((await request(`${p.url}/`)).body, 'a', 'no traffic to the down backend');
  assert.ok(p.logs.some((l) => l.msg === `backend ${b.b.address} is down` && String(l.reason).includes('L7_STATUS 503')), 'one log line names the backend, the state and the reason');
  b.state.health = 200;
  const t1 = Date.now();
  await waitFor(async () => (await backendState(p, b.b.address)) === 'up', 3_000, 'b up');
  assert.ok(Date.now() - t1 < 1_500);
  const seen = new Set<string>();
  for (let i = 0; i < 6; i++) seen.add((await request(`${p.url}/`)).body);
  assert.deepEqual([...seen].toSorted(), ['a', 'b']);
  // Only flips are logged: one down, one up.
  assert.equal(p.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith(`backend ${b.b.address} is`)).length, 2);
});

test('a backend that accepts but never answers is detected by the check timeout', async (t) => {
  const good = await startBackend(t, 'good');
  const hang = createServer(() => undefined);
  const port = await listen(hang);
  t.after(() => {
    hang.close();
  });
  const p = await startProxy(
    t,
    `log: { level: warn, access: false }
services:
  www:
    listen: 127.0.0.1:0
    backends: [${good.address}, 127.0.0.1:${port}]
    health: { type: http, interval: 100ms, timeout: 200ms, fall: 2, jitter: 0 }
`,
  );
  await waitFor(async () => (await backendState(p, `127.0.0.1:${port}`)) === 'down', 3_000, 'hanging backend down');
  const st = await p.daemon.status();
  assert.match(st.services[0]!.backends[1]!.check!.last!, /L7_TIMEOUT/);
  for (let i = 0; i < 4; i++) assert.equal((await request(`${p.url}/`)).body, 'good\n');
});

test('an exec check with dynamic: true sets the weight from its exit code and changes the distribution', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-exec-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const script = join(dir, 'weight.sh');
  // exit 2 + N = up with weight N (keepalived misc_dynamic); the code comes from a file per backend.
  await writeFile(script, '#!/bin/sh\nexit $(cat "$1")\n');
  await chmod(script, 0o755);
  await writeFile(join(dir, 'a'), '5'); // weight 3
  await writeFile(join(dir, 'b'), '3'); // weight 1
  const a = await startBackend(t, 'a');
  const b = await startBackend(t, 'b');
  const p = await startProxy(
    t,
    `log: { level: warn, access: false }
services:
  www:
    listen: 127.0.0.1:0
    scheduler: swrr
    backends:
      - { address: ${a.address}, weight: 1, health: { command: [${script}, ${join(dir, 'a')}] } }
      - { address: ${b.address}, weight: 1, health: { command: [${script}, ${join(dir, 'b')}] } }
    health: { type: exec, command: [/bin/true], dynamic: true, interval: 100ms, timeout: 2s, jitter: 0 }
`,
  );
  await waitFor(async () => (await p.daemon.status()).services[0]!.backends[0]!.effectiveWeight === 3, 5_000, 'dynamic weight 3');
  const counts: Record<string, number> = { a: 0, b: 0 };
  for (let i = 0; i < 40; i++) counts[(await request(`${p.url}/`)).body.trim()]!++;
  assert.deepEqual(counts, { a: 30, b: 10 }, 'weights 3:1');
  await writeFile(join(dir, 'a'), '1'); // exit 1: down
  await waitFor(async () => (await backendState(p, a.address)) === 'down', 5_000, 'exit 1 takes a down');
  for (let i = 0; i < 4; i++) assert.equal((await request(`${p.url}/`)).body.trim(), 'b');
});

test('an agent saying drain stops new traffic while an open WebSocket stays open; ready brings it back', async (t) => {
  const a = await startBackend(t, 'a');
  const b = await startBackend(t, 'b');
  const wss = new WebSocketServer({ server: b.server });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`b: ${String(m)}`)));
  t.after(() => wss.close());
  // Each backend has its agent (HAProxy agent-check): a's always says up, b's says what the test wants.
  const reply = { value: 'up ready\n' };
  const agentA = createServer((s) => s.end('up\n'));
  const agentB = createServer((s) => s.end(reply.value));
  const portA = await listen(agentA);
  const portB = await listen(agentB);
  t.after(() => {
    agentA.close();
    agentB.close();
  });
  const p = await startProxy(
    t,
    cluster([a, b], `    health: { type: agent, port: ${portA}, interval: 100ms, jitter: 0 }`, (i) => (i === 1 ? `, health: { port: ${portB} }` : '')),
  );
  // Open a WebSocket to b (rr: try until the tunnel lands on b).
  let ws: WebSocket | undefined;
  for (let i = 0; i < 4 && ws === undefined; i++) {
    const w = new WebSocket(`ws://127.0.0.1:${p.port}/ws`);
    const ok = await new Promise<boolean>((resolve) => {
      w.addEventListener('open', () => resolve(true));
      w.addEventListener('error', () => resolve(false));
    });
    if (ok) ws = w;
  }
  assert.ok(ws, 'a WebSocket reached b');
  t.after(() => ws!.close());
  const echo = (text: string) =>
    new Promise<string>((resolve) => {
      ws!.addEventListener('message', (e) => resolve(String(e.data)), { once: true });
      ws!.send(text);
    });
  assert.equal(await echo('one'), 'b: one');
  reply.value = 'drain\n';
  await waitFor(async () => (await backendState(p, b.address)) === 'drain', 3_000, 'agent drain');
  const before = b.seen.length;
  for (let i = 0; i < 6; i++) assert.equal((await request(`${p.url}/`)).body, 'a\n');
  assert.equal(b.seen.length, before, 'no new request reached the drained backend');
  assert.equal(await echo('two'), 'b: two', 'the existing tunnel still works');
  reply.value = 'ready\n';
  await waitFor(async () => (await backendState(p, b.address)) === 'up', 3_000, 'agent ready');
});

test('three backends under continuous GET load: stopping one fails no request, and it gets none after detection', async (t) => {
  const bs = await Promise.all(['a', 'b', 'c'].map((n) => startBackend(t, n)));
  const p = await startProxy(t, cluster(bs, '    health: { type: tcp, interval: 100ms, fall: 2, jitter: 0 }\n    passive: { max_fails: 0 }'));
  let failed = 0;
  let ok = 0;
  const run = { stop: false };
  let detectedAt = 0;
  const after: string[] = [];
  const worker = async () => {
    while (!run.stop) {
      try {
        const r = await request(`${p.url}/`);
        if (r.status === 200) ok++;
        else failed++;
        if (detectedAt !== 0) after.push(r.body.trim());
      } catch {
        failed++;
      }
    }
  };
  const load = Promise.all([worker(), worker(), worker()]);
  await waitFor(() => ok > 100, 5_000, 'load');
  await bs[1]!.close();
  await waitFor(async () => (await backendState(p, bs[1]!.address)) === 'down', 3_000, 'b detected down');
  detectedAt = Date.now();
  await sleep(500);
  run.stop = true;
  await load;
  assert.equal(failed, 0, 'no client request failed (retried on the next backend)');
  assert.ok(after.length > 20);
  assert.ok(!after.includes('b'), 'no request reached b after detection');
});

test('passive ejection never takes more than max_ejection_percent of the backends', async (t) => {
  const bs = await Promise.all(['a', 'b', 'c', 'd'].map((n) =>
    startBackend(t, n, (_req, res, _body, self) => {
      res.writeHead(self.name === 'd' ? 200 : 500, { 'content-length': '1' });
      res.end('x');
    }),
  ));
  const p = await startProxy(t, cluster(bs, '    passive: { consecutive_5xx: 2, max_ejection_percent: 50, base_ejection_time: 30s }'));
  for (let i = 0; i < 40; i++) await request(`${p.url}/`);
  const st = await p.daemon.status();
  const down = st.services[0]!.backends.filter((b) => b.status === 'down');
  assert.equal(down.length, 2, `two of four ejected at most (50%): ${st.services[0]!.backends.map((b) => `${b.id}=${b.status}`).join(' ')}`);
  assert.ok(down.every((b) => b.check?.last?.startsWith('ejected')));
});

test('quorum loss switches to the sorry server, and quorum back returns to the backends', async (t) => {
  const a = await switchable(t, 'a');
  const b = await switchable(t, 'b');
  const sorry = await startBackend(t, 'sorry');
  const p = await startProxy(
    t,
    cluster([a.b, b.b], `    health: { type: http, path: /health, interval: 100ms, fall: 1, rise: 1, jitter: 0, quorum: 2 }\n    sorry_server: ${sorry.address}`),
  );
  await waitFor(async () => (await p.daemon.status()).services[0]!.backends.every((x) => x.check?.last === 'L7_OK 200'), 3_000, 'first checks');
  assert.notEqual((await request(`${p.url}/`)).body, 'sorry\n');
  a.state.health = 500;
  await waitFor(async () => (await request(`${p.url}/`)).body === 'sorry\n', 3_000, 'sorry server');
  assert.ok(p.logs.some((l) => typeof l.msg === 'string' && l.msg.includes('quorum down')));
  assert.equal((await p.daemon.status()).services[0]!.quorumLost, true);
  a.state.health = 200;
  await waitFor(async () => (await request(`${p.url}/`)).body !== 'sorry\n', 3_000, 'back to backends');
  assert.ok(p.logs.some((l) => typeof l.msg === 'string' && l.msg.includes('quorum up')));
});

test('operator drain, maint, weight and enable through the control socket survive a reload', async (t) => {
  const bs = await Promise.all(['a', 'b'].map((n) => startBackend(t, n)));
  const p = await startProxy(t, cluster(bs, '', (i) => `, name: web${i + 1}`).replace('scheduler: rr', 'scheduler: swrr'), { controlSocket: true });
  const { controlRequest } = await import('../../src/app/control.ts');
  const path = p.daemon.controlPath!;
  const r = (await controlRequest(path, { cmd: 'backend', action: 'drain', service: 'www', backend: 'web2' })) as { ok: boolean; message: string };
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(await backendState(p, bs[1]!.address), 'drain');
  for (let i = 0; i < 4; i++) assert.equal((await request(`${p.url}/`)).body, 'a\n');
  assert.ok((await p.daemon.reload()).ok);
  assert.equal(await backendState(p, bs[1]!.address), 'drain', 'drain survives a reload');
  await controlRequest(path, { cmd: 'backend', action: 'enable', service: 'www', backend: 'web2' });
  assert.equal(await backendState(p, bs[1]!.address), 'up');
  const w = (await controlRequest(path, { cmd: 'backend', action: 'weight', service: 'www', backend: bs[0]!.address, weight: 3 })) as { ok: boolean };
  assert.ok(w.ok);
  assert.ok((await p.daemon.reload()).ok);
  const counts: Record<string, number> = { a: 0, b: 0 };
  for (let i = 0; i < 8; i++) counts[(await request(`${p.url}/`)).body.trim()]!++;
  assert.deepEqual(counts, { a: 6, b: 2 }, 'weight 3:1, kept across the reload');
  const bad = (await controlRequest(path, { cmd: 'backend', action: 'drain', service: 'www', backend: 'nope' })) as { ok: boolean; error: string };
  assert.equal(bad.ok, false);
  assert.match(bad.error, /no backend "nope"/);
});

test('on_down: shutdown-sessions closes open tunnels of a backend that goes down', async (t) => {
  const b = await switchable(t, 'b');
  const wss = new WebSocketServer({ server: b.b.server });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(String(m))));
  t.after(() => wss.close());
  const p = await startProxy(t, cluster([b.b], '    health: { type: http, path: /health, interval: 100ms, fall: 1, jitter: 0 }\n    on_down: shutdown-sessions'));
  const ws = new WebSocket(`ws://127.0.0.1:${p.port}/ws`);
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve());
    ws.addEventListener('error', () => reject(new Error('ws error')));
  });
  const closed = new Promise<void>((resolve) => ws.addEventListener('close', () => resolve()));
  b.state.health = 503;
  await Promise.race([closed, sleep(3_000).then(() => assert.fail('the tunnel was not closed'))]);
});

test('a reload with an unchanged check keeps a down backend down: no traffic before it is checked again', async (t) => {
  const a = await switchable(t, 'a');
  const b = await switchable(t, 'b');
  const text = (interval: string) => cluster([a.b, b.b], `    health: { type: http, path: /health, interval: ${interval}, fall: 1, rise: 3, jitter: 0 }`);
  b.state.health = 503;
  const p = await startProxy(t, text('100ms'));
  await waitFor(async () => (await backendState(p, b.b.address)) === 'down', 3_000, 'b down');
  // b recovers, but only 3 passing checks may bring it back; a reload that changes only
  // the interval must keep it down (a fresh start would make it up at once: start: up).
  b.state.health = 200;
  await p.rewrite(text('10s'));
  assert.ok((await p.daemon.reload()).ok);
  assert.equal(await backendState(p, b.b.address), 'down', 'state kept across the reload');
  for (let i = 0; i < 6; i++) assert.equal((await request(`${p.url}/`)).body, 'a');
});

test('slow_start ramps the weight of a backend that came back', async (t) => {
  const a = await switchable(t, 'a');
  const b = await switchable(t, 'b');
  const p = await startProxy(t, cluster([a.b, b.b], '    health: { type: http, path: /health, interval: 100ms, fall: 1, rise: 1, jitter: 0, slow_start: 2s }', () => ', weight: 10').replace('scheduler: rr', 'scheduler: swrr'));
  b.state.health = 503;
  await waitFor(async () => (await backendState(p, b.b.address)) === 'down', 3_000, 'b down');
  b.state.health = 200;
  await waitFor(async () => (await backendState(p, b.b.address)) === 'up', 3_000, 'b up');
  const eff = async () => (await p.daemon.status()).services[0]!.backends[1]!.effectiveWeight;
  const first = await eff();
  assert.ok(first < 5, `just up: a small weight (${first})`);
  // While ramping, b gets a small share.
  const counts: Record<string, number> = { a: 0, b: 0 };
  for (let i = 0; i < 20; i++) counts[(await request(`${p.url}/`)).body]!++;
  assert.ok(counts.b! < counts.a!, `b ramping: ${JSON.stringify(counts)}`);
  await waitFor(async () => (await eff()) === 10, 4_000, 'full weight');
});
