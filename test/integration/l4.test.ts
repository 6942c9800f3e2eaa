/**
 * Layer-4 services (`protocol: tcp` / `protocol: udp`) through the real daemon, with
 * real TCP and UDP servers on 127.0.0.1.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Daemon } from '../../src/app/daemon.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { freePort, request, sleep, startBackend, waitFor } from '../helpers/http.ts';

// ---- helpers -------------------------------------------------------------------

interface TcpBackend {
  name: string;
  address: string;
  port: number;
  connections: number;
  /** Every connection's first bytes (up to 256), for PROXY header checks. */
  firstBytes: Buffer[];
  /** Stops listening; open connections stay. */
  stopListening(): Promise<void>;
  close(): Promise<void>;
}

/** An echo server; `onEnd` decides what happens when the client half-closes (default: end too). */
async function tcpBackend(t: TestContext, name: string, onEnd?: (s: Socket) => void): Promise<TcpBackend> {
  const sockets = new Set<Socket>();
  const b: TcpBackend = { name, address: '', port: 0, connections: 0, firstBytes: [], stopListening: async () => undefined, close: async () => undefined };
  const server = createServer({ allowHalfOpen: true }, (s) => {
    b.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let first: Buffer | null = Buffer.alloc(0);
    const idx = b.firstBytes.push(first) - 1;
    s.on('data', (d: Buffer) => {
      if (first !== null) {
        first = Buffer.concat([first, d]).subarray(0, 256);
        b.firstBytes[idx] = first;
        if (first.length >= 256) first = null;
      }
      s.write(d);
    });
    s.on('end', () => (onEnd ? onEnd(s) : s.end()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  b.port = (server.address() as AddressInfo).port;
  b.address = `127.0.0.1:${b.port}`;
  b.stopListening = () => new Promise<void>((r) => server.close(() => r()));
  let closed = false;
  b.close = () => {
    if (closed) return Promise.resolve();
    closed = true;
    return new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  };
  t.after(() => b.close());
  return b;
}

interface Started {
  daemon: Daemon;
  file: string;
  logs: Record<string, unknown>[];
  rewrite(text: string): Promise<void>;
}

async function startDaemon(t: TestContext, yaml: string): Promise<Started> {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-l4-'));
  const file = join(dir, 'cluster.yaml');
  await writeFile(file, yaml);
  const logs: Record<string, unknown>[] = [];
  const stream = { write: (s: string) => (s.split('\n').forEach((l) => l !== '' && logs.push(JSON.parse(l) as Record<string, unknown>)), true) };
  const daemon = await Daemon.start({ file, log: pino({ level: 'debug' }, stream), controlSocket: false });
  t.after(async () => {
    await daemon.stop(1_000);
    await rm(dir, { recursive: true, force: true });
  });
  return { daemon, file, logs, rewrite: (text) => writeFile(file, text) };
}

function tcpService(port: number, backends: TcpBackend[] | string[], extra = ''): string {
  const list = backends.map((b) => (typeof b === 'string' ? b : b.address));
  return `
log: { level: debug, access: false }
services:
  t:
    protocol: tcp
    listen: 127.0.0.1:${port}
    backends: [${list.join(', ')}]
${extra}`;
}

/** Connects, sends `data`, half-closes, and collects everything until the proxy's FIN. */
function exchange(port: number, data: Buffer | string, opts: { end?: boolean; timeoutMs?: number } = {}): Promise<{ data: Buffer; local: number }> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('exchange timed out'));
    }, opts.timeoutMs ?? 10_000);
    s.on('connect', () => {
      s.write(data);
      if (opts.end !== false) s.end();
    });
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('end', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), local: s.localPort ?? 0 });
      s.end();
    });
  });
}

async function status(d: Daemon, name = 't') {
  const st = await d.status();
  return st.services.find((s) => s.name === name)!;
}

// ---- tcp -----------------------------------------------------------------------

test('tcp: a large echo passes both ways intact, with back-pressure', async (t) => {
  const b = await tcpBackend(t, 'echo');
  const port = await freePort();
  const p = await startDaemon(t, tcpService(port, [b]));
  const payload = Buffer.alloc(8 * 1024 * 1024);
  for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE(i, i);
  const r = await exchange(port, payload, { timeoutMs: 30_000 });
  assert.equal(r.data.length, payload.length);
  assert.ok(r.data.equals(payload), 'every byte echoed in order');
  await waitFor(async () => (await status(p.daemon)).backends[0]!.active === 0, 5_000, 'connection counted out');
  const st = await status(p.daemon);
  assert.deepEqual(st.listen, [`tcp 127.0.0.1:${port}`]);
  assert.equal(st.backends[0]!.requests, 1);
});

test('tcp: an HTTP server behind a tcp service answers keep-alive requests', async (t) => {
  const web = await startBackend(t, 'web');
  const port = await freePort();
  await startDaemon(t, tcpService(port, [web.address]));
  for (let i = 0; i < 3; i++) {
    const r = await request(`http://127.0.0.1:${port}/x`);
    assert.equal(r.status, 200);
    assert.match(r.body, /web/);
  }
});

test('tcp: connections spread by the configured scheduler (rr, wrr, sh)', async (t) => {
  const bs = await Promise.all(['a', 'b', 'c'].map((n) => tcpBackend(t, n)));
  const port = await freePort();
  const p = await startDaemon(t, tcpService(port, bs, '    scheduler: rr'));
  for (let i = 0; i < 9; i++) await exchange(port, 'x');
  assert.deepEqual(bs.map((b) => b.connections), [3, 3, 3], 'rr');
  await p.rewrite(tcpService(port, [`{ address: ${bs[0]!.address}, weight: 2 }`, `{ address: ${bs[1]!.address}, weight: 1 }`], '    scheduler: wrr'));
  assert.ok((await p.daemon.reload()).ok);
  for (const b of bs) b.connections = 0;
  for (let i = 0; i < 6; i++) await exchange(port, 'x');
  assert.deepEqual(bs.map((b) => b.connections), [4, 2, 0], 'wrr 2:1');
  await p.rewrite(tcpService(port, bs, '    scheduler: sh'));
  assert.ok((await p.daemon.reload()).ok);
  for (const b of bs) b.connections = 0;
  for (let i = 0; i < 6; i++) await exchange(port, 'x');
  assert.deepEqual(bs.map((b) => b.connections).toSorted(), [0, 0, 6], 'sh: one client address, one backend');
});

test('tcp: a killed backend gets no new connections once the health check saw it', async (t) => {
  const [a, b] = await Promise.all(['a', 'b'].map((n) => tcpBackend(t, n)));
  const port = await freePort();
  const p = await startDaemon(t, tcpService(port, [a!, b!], '    scheduler: rr\n    health: { type: tcp, interval: 100ms, timeout: 500ms, fall: 1, rise: 1, jitter: 0 }'));
  await b!.close();
  await waitFor(async () => (await status(p.daemon)).backends[1]!.status === 'down', 5_000, 'b down');
  a!.connections = 0;
  for (let i = 0; i < 6; i++) assert.equal((await exchange(port, 'hi')).data.toString(), 'hi');
  assert.equal(a!.connections, 6, 'every new connection went to a');
  const st = await status(p.daemon);
  assert.match(st.backends[1]!.check?.last ?? '', /L4/);
});

test('tcp: a refused connect is retried on the next backend before any byte is sent', async (t) => {
  const live = await tcpBackend(t, 'live');
  const dead = `127.0.0.1:${await freePort()}`; // nothing listens there
  const port = await freePort();
  const p = await startDaemon(t, tcpService(port, [dead, live.address], '    scheduler: rr\n    passive: { max_fails: 0 }'));
  for (let i = 0; i < 4; i++) assert.equal((await exchange(port, `m${i}`)).data.toString(), `m${i}`);
  assert.equal(live.connections, 4);
  const st = await status(p.daemon);
  assert.ok(st.backends[0]!.failures >= 2, `the dead backend's failures were counted: ${st.backends[0]!.failures}`);
  assert.ok(p.logs.some((l) => /connect to 127\.0\.0\.1:\d+ failed \(error\); trying the next backend/.test(String(l.msg))));
});

test('tcp: half-close: after the client FIN the backend can still answer', async (t) => {
  const b = await tcpBackend(t, 'late', (s) => {
    setTimeout(() => s.end('late reply'), 200);
  });
  const port = await freePort();
  await startDaemon(t, tcpService(port, [b]));
  const r = await exchange(port, 'question;');
  assert.equal(r.data.toString(), 'question;late reply', 'the reply sent after the client half-closed arrived');
});

function parseV2Header(buf: Buffer): { src: string; sport: number; dport: number; length: number } {
  // Independent of src/proxy/tcp: signature, 0x21 (v2 PROXY), 0x11 (TCP over IPv4), length, addresses.
  assert.ok(buf.subarray(0, 12).equals(Buffer.from('0d0a0d0a000d0a515549540a', 'hex')), 'v2 signature');
  assert.equal(buf[12], 0x21);
  assert.equal(buf[13], 0x11);
  const len = buf.readUInt16BE(14);
  return { src: [...buf.subarray(16, 20)].join('.'), sport: buf.readUInt16BE(24), dport: buf.readUInt16BE(26), length: 16 + len };
}

test('tcp: PROXY protocol v1 and v2 carry the client address to the backend', async (t) => {
  const b = await tcpBackend(t, 'pp');
  const port = await freePort();
  const p = await startDaemon(t, tcpService(port, [b], '    proxy_protocol: v1'));
  const r1 = await exchange(port, 'payload');
  const first1 = b.firstBytes[0]!.toString('latin1');
  assert.equal(first1, `PROXY TCP4 127.0.0.1 127.0.0.1 ${r1.local} ${port}\r\npayload`);
  assert.equal(r1.data.toString('latin1'), first1, 'the echo carries the header back: it reached the backend first');
  await p.rewrite(tcpService(port, [b], '    proxy_protocol: v2'));
  assert.ok((await p.daemon.reload()).ok);
  const r2 = await exchange(port, 'payload');
  const h = parseV2Header(b.firstBytes[1]!);
  assert.deepEqual({ src: h.src, sport: h.sport, dport: h.dport }, { src: '127.0.0.1', sport: r2.local, dport: port });
  assert.equal(b.firstBytes[1]!.subarray(h.length).toString(), 'payload');
});

test('tcp: accept_proxy_protocol takes the client address from a trusted front; a bad header closes the connection', async (t) => {
  const b = await tcpBackend(t, 'pp');
  const port = await freePort();
  const p = await startDaemon(t, tcpService(port, [b], '    proxy_protocol: v1\n    accept_proxy_protocol: [127.0.0.0/8]\n    persistence: { timeout: 60s }'));
  await exchange(port, 'PROXY TCP4 203.0.113.9 127.0.0.1 40000 443\r\nhello');
  assert.equal(b.firstBytes[0]!.toString('latin1'), 'PROXY TCP4 203.0.113.9 127.0.0.1 40000 443\r\nhello', 'client and destination from the front\'s header');
  // v2 from the front, split over two writes.
  const v2 = Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a2111000c', 'hex'), Buffer.from([198, 51, 100, 7, 127, 0, 0, 1, 0x9c, 0x41, 0x01, 0xbb])]);
  await new Promise<void>((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' }, () => {
      s.write(v2.subarray(0, 7));
      setTimeout(() => s.end(Buffer.concat([v2.subarray(7), Buffer.from('two')])), 100);
    });
    s.on('data', () => undefined);
    s.on('close', () => resolve());
    s.on('error', reject);
  });
  assert.equal(b.firstBytes[1]!.toString('latin1'), 'PROXY TCP4 198.51.100.7 127.0.0.1 40001 443\r\ntwo');
  // A malformed header: closed, nothing reaches a backend.
  const before = b.connections;
  const r = await exchange(port, 'PROXY TCP4 not-an-address 127.0.0.1 1 2\r\n');
  assert.equal(r.data.length, 0);
  assert.equal(b.connections, before);
  assert.ok(p.logs.some((l) => /bad PROXY header from trusted front 127\.0\.0\.1/.test(String(l.msg))));
});

test('tcp: reload keeps unchanged backends and their counters; stop lets an open connection finish', async (t) => {
  const [a, b] = await Promise.all(['a', 'b'].map((n) => tcpBackend(t, n)));
  const port = await freePort();
  const p = await startDaemon(t, tcpService(port, [a!], '    scheduler: rr'));
  await exchange(port, 'x');
  await p.rewrite(tcpService(port, [a!, b!], '    scheduler: rr'));
  assert.ok((await p.daemon.reload()).ok);
  const st = await status(p.daemon);
  assert.equal(st.backends[0]!.requests, 1, 'a kept its counter');
  assert.equal(st.backends.length, 2);
  // An open connection, then a graceful stop.
  const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise((r) => s.once('connect', r));
  s.write('before');
  await waitFor(async () => (await status(p.daemon)).backends.some((x) => x.active === 1), 5_000, 'one active connection');
  const got: Buffer[] = [];
  s.on('data', (d: Buffer) => got.push(d));
  const stopped = p.daemon.stop(10_000);
  await sleep(200);
  await assert.rejects(exchange(port, 'new', { timeoutMs: 2_000 }), 'the listener is closed');
  s.end('after');
  await new Promise((r) => s.once('end', r));
  assert.equal(Buffer.concat(got).toString(), 'beforeafter', 'the open connection finished');
  await stopped;
});

test('tcp: on_down shutdown-sessions cuts open connections of a backend that goes down', async (t) => {
  const a = await tcpBackend(t, 'a');
  const port = await freePort();
  const p = await startDaemon(t, tcpService(port, [a], '    on_down: shutdown-sessions\n    health: { type: tcp, interval: 100ms, timeout: 500ms, fall: 1, rise: 1, jitter: 0 }'));
  const s = connect({ port, host: '127.0.0.1' });
  await new Promise((r) => s.once('connect', r));
  s.on('error', () => undefined);
  const closed = new Promise((r) => s.once('close', r));
  await waitFor(async () => (await status(p.daemon)).backends[0]!.active === 1, 5_000, 'connected');
  // The backend stops listening (its open socket stays): the check fails, the session is cut.
  let cut = false;
  void closed.then(() => (cut = true));
  await sleep(300);
  assert.equal(cut, false, 'the session lives while the backend is up');
  const serverDone = a.stopListening();
  await closed;
  assert.equal((await status(p.daemon)).backends[0]!.status, 'down');
  a.close().catch(() => undefined);
  void serverDone;
  await closed;
});

// ---- udp -----------------------------------------------------------------------

async function udpBackend(t: TestContext, name: string): Promise<{ name: string; address: string; seen: string[] }> {
  const sock = createSocket('udp4');
  const seen: string[] = [];
  sock.on('message', (m, r) => {
    seen.push(`${r.address}:${r.port}`);
    sock.send(`${name}:${m.toString()}`, r.port, r.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => sock.close(() => r())));
  return { name, address: `127.0.0.1:${sock.address().port}`, seen };
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function udpClient(t: TestContext): Promise<{ ask(port: number, msg: string): Promise<{ text: string; from: number }>; sock: DgramSocket }> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => sock.close(() => r())));
  return {
    sock,
    ask: (port, msg) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no reply to ${msg}`)), 5_000);
        sock.once('message', (m, r) => {
          clearTimeout(timer);
          resolve({ text: m.toString(), from: r.port });
        });
        sock.send(msg, port, '127.0.0.1');
      }),
  };
}

function udpService(port: number, bs: { address: string }[], extra = ''): string {
  return `
log: { level: debug, access: false }
services:
  u:
    protocol: udp
    listen: 127.0.0.1:${port}
    scheduler: rr
    backends: [${bs.map((b) => b.address).join(', ')}]
${extra}`;
}

test('udp: request/response through the service address, one backend per client flow, flows expire', async (t) => {
  const bs = await Promise.all(['a', 'b'].map((n) => udpBackend(t, n)));
  const port = await freeUdpPort();
  const p = await startDaemon(t, udpService(port, bs, '    idle_timeout: 400ms'));
  const c1 = await udpClient(t);
  const c2 = await udpClient(t);
  const r1 = await c1.ask(port, 'one');
  assert.equal(r1.from, port, 'the reply comes from the service address');
  const mine = r1.text.split(':')[0]!;
  for (let i = 0; i < 4; i++) assert.equal((await c1.ask(port, `again${i}`)).text, `${mine}:again${i}`, 'the flow sticks to its backend');
  const other = (await c2.ask(port, 'two')).text.split(':')[0]!;
  assert.notEqual(other, mine, 'rr gave the second client the other backend');
  let st = await status(p.daemon, 'u');
  assert.deepEqual(st.listen, [`udp 127.0.0.1:${port}`]);
  assert.equal(st.requests, 2, 'two flows');
  assert.deepEqual(st.backends.map((b) => b.inactive), [1, 1], 'one flow on each (ipvsadm shows UDP under InActConn)');
  // Idle past the timeout: the flows end.
  await waitFor(async () => (await status(p.daemon, 'u')).backends.every((b) => b.inactive === 0), 5_000, 'flows expired');
  st = await status(p.daemon, 'u');
  assert.equal((st as { flows?: { expired: number } }).flows?.expired, 2);
  await c1.ask(port, 'later');
  assert.equal((await status(p.daemon, 'u')).requests, 3, 'a new flow after expiry');
});

test('udp: persistence by client address keeps every flow of a client on one backend; the table is bounded', async (t) => {
  const bs = await Promise.all(['a', 'b'].map((n) => udpBackend(t, n)));
  const port = await freeUdpPort();
  const p = await startDaemon(t, udpService(port, bs, '    persistence: { timeout: 60s }\n    max_flows: 2'));
  const clients = await Promise.all([1, 2, 3].map(() => udpClient(t)));
  const got = [];
  for (const c of clients) got.push((await c.ask(port, 'x')).text.split(':')[0]);
  assert.equal(new Set(got).size, 1, `one client address, one backend: ${got.join(',')}`);
  const st = (await status(p.daemon, 'u')) as { flows?: { open: number; evicted: number } };
  assert.deepEqual({ open: st.flows?.open, evicted: st.flows?.evicted }, { open: 2, evicted: 1 }, 'max_flows 2: the oldest flow was evicted');
});

// ---- config ----------------------------------------------------------------------

test('a bad cluster file names the service, the option and why', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-l4-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'cluster.yaml');
  await writeFile(file, 'services:\n  media:\n    protocol: tcp\n    listen: 1755\n    backends: [10.0.0.1:1755]\n    retry: { tries: 2 }\n    proxy_protocol: v3\n');
  const err = await Daemon.start({ file, controlSocket: false }).then(
    () => assert.fail('expected a refusal'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError);
  const text = err.problems.map((x) => `${x.line}:${x.column} ${x.path}: ${x.message}`).join('\n');
  assert.match(text, /6:\d+ services\.media\.retry: retry is an option of http services; a tcp service does not take it/);
  assert.match(text, /7:\d+ services\.media\.proxy_protocol: expected one of "v1", "v2"/);
});

test('with workers: 2, tcp services run in the primary and http services in the workers', async (t) => {
  const b = await tcpBackend(t, 'echo');
  const web = await startBackend(t, 'web');
  const [tport, hport] = [await freePort(), await freePort()];
  const p = await startDaemon(
    t,
    `
log: { level: warn, access: false }
nodes:
  local: { address: 127.0.0.1, workers: 2 }
services:
  t:
    protocol: tcp
    listen: 127.0.0.1:${tport}
    backends: [${b.address}]
  www:
    listen: 127.0.0.1:${hport}
    backends: [${web.address}]
`,
  );
  assert.equal((await exchange(tport, 'through the primary')).data.toString(), 'through the primary');
  assert.equal((await request(`http://127.0.0.1:${hport}/`)).status, 200);
  const st = await p.daemon.status();
  assert.deepEqual(st.services.map((s) => s.name).toSorted(), ['t', 'www']);
  assert.equal(st.services.find((s) => s.name === 't')!.backends[0]!.requests, 1);
});

test('tcp: a connect that times out (a backend whose accept queue is full) goes to the next backend', async (t) => {
  // A real listener that never accepts: once its queue is full the kernel drops SYNs.
  const { spawn } = await import('node:child_process');
  const py = spawn('python3', ['-c', 'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(120)'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => py.kill());
  const stuckPort = await new Promise<number>((r) => py.stdout.once('data', (d: Buffer) => r(Number(d.toString().trim()))));
  const fillers: Socket[] = [];
  t.after(() => fillers.forEach((s) => s.destroy()));
  for (let i = 0; i < 3; i++) {
    const s = connect({ port: stuckPort, host: '127.0.0.1' });
    s.on('error', () => undefined);
    fillers.push(s);
  }
  await sleep(200);
  const live = await tcpBackend(t, 'live');
  const port = await freePort();
  const p = await startDaemon(t, tcpService(port, [`127.0.0.1:${stuckPort}`, live.address], '    scheduler: rr\n    connect_timeout: 300ms\n    passive: { max_fails: 0 }'));
  const t0 = performance.now();
  assert.equal((await exchange(port, 'late but fine')).data.toString(), 'late but fine');
  assert.equal((await exchange(port, 'again')).data.toString(), 'again');
  assert.ok(performance.now() - t0 >= 250, 'one attempt waited for the connect timeout');
  assert.ok(p.logs.some((l) => /connect to 127\.0\.0\.1:\d+ failed \(timeout\); trying the next backend/.test(String(l.msg))));
  assert.equal(live.connections, 2);
});

test('tcp: max_conns caps connections per backend; with every backend full a new connection is closed', async (t) => {
  const [a, b] = await Promise.all(['a', 'b'].map((n) => tcpBackend(t, n)));
  const port = await freePort();
  const p = await startDaemon(t, tcpService(port, [`{ address: ${a!.address}, max_conns: 1 }`, `{ address: ${b!.address}, max_conns: 1 }`], '    scheduler: rr'));
  const held: Socket[] = [];
  t.after(() => held.forEach((s) => s.destroy()));
  for (let i = 0; i < 2; i++) {
    const s = connect({ port, host: '127.0.0.1' });
    s.on('error', () => undefined);
    held.push(s);
  }
  await waitFor(async () => (await status(p.daemon)).backends.every((x) => x.active === 1), 5_000, 'one connection on each');
  assert.deepEqual((await status(p.daemon)).backends.map((x) => x.status), ['full', 'full']);
  const r = await exchange(port, 'x');
  assert.equal(r.data.length, 0, 'closed without a backend');
  assert.equal(a!.connections + b!.connections, 2);
  held[0]!.destroy();
  await waitFor(async () => (await status(p.daemon)).backends.some((x) => x.active === 0), 5_000, 'a slot freed');
  assert.equal((await exchange(port, 'y')).data.toString(), 'y');
});

test('tcp: a slow reader gets every byte of a large download intact (back-pressure from the client side)', async (t) => {
  const size = 16 * 1024 * 1024;
  const payload = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) payload.writeUInt32BE(i, i);
  const server = createServer((s) => {
    s.on('error', () => undefined);
    s.end(payload);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = await freePort();
  await startDaemon(t, tcpService(port, [`127.0.0.1:${(server.address() as AddressInfo).port}`]));
  const got = await new Promise<Buffer>((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    let n = 0;
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      // Stall now and then, so the proxy's writes to us back up.
      if (++n % 20 === 0) {
        s.pause();
        setTimeout(() => s.resume(), 15);
      }
    });
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
  assert.equal(got.length, size);
  assert.ok(got.equals(payload), 'no byte lost, duplicated or overwritten');
});
