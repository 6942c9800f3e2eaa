import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { test } from 'node:test';
import { openTransport } from './transport.ts';
import type { VrrpMeta } from './transport.ts';
import { openUdpTransport } from './transport-udp.ts';

/** A UDP port free on every address we use (each node binds its own 127.0.0.x, same port). */
async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function nextMessage(t: { onMessage(cb: (p: Buffer, m: VrrpMeta) => void): () => void }): Promise<{ payload: Buffer; meta: VrrpMeta }> {
  return new Promise((resolve) => {
    const off = t.onMessage((payload, meta) => {
      off();
      resolve({ payload, meta });
    });
  });
}

test('udp: the same VRRP bytes between two peers; meta gives the source, our address, TTL 255 as a stand-in', async (t) => {
  const port = await freePort();
  const a = await openUdpTransport({ address: '127.0.0.2', port, peers: ['127.0.0.3'] });
  const b = await openTransport({ kind: 'udp', address: '127.0.0.3', port, peers: [{ address: '127.0.0.2', port }] });
  t.after(() => {
    a.close();
    b.close();
  });
  assert.equal(a.kind, 'udp');
  assert.deepEqual([a.source, a.targets, a.port], ['127.0.0.2', ['127.0.0.3'], port]);
  const advert = Buffer.from('3133960100642b4f0a630164', 'hex');
  const got = nextMessage(b);
  await a.send(advert, '127.0.0.3');
  const { payload, meta } = await got;
  assert.deepEqual(payload, advert);
  assert.deepEqual(meta, { src: '127.0.0.2', dst: '127.0.0.3', ttl: 255, ifindex: 0 });
  const back = nextMessage(a);
  await b.send(payload, meta.src);
  assert.deepEqual((await back).meta.src, '127.0.0.3');
});

test('udp: a datagram from anyone but a configured peer (address AND port) is dropped and counted', async (t) => {
  const port = await freePort();
  const drops: unknown[] = [];
  const a = await openUdpTransport({ address: '127.0.0.2', port, peers: ['127.0.0.3'], onDrop: (reason, from) => drops.push({ reason, from }) });
  const stranger = createSocket('udp4');
  await new Promise<void>((r) => stranger.bind(0, '127.0.0.4', r));
  const wrongPort = createSocket('udp4');
  await new Promise<void>((r) => wrongPort.bind(0, '127.0.0.3', r));
  t.after(() => {
    a.close();
    stranger.close();
    wrongPort.close();
  });
  const heard: Buffer[] = [];
  a.onMessage((p) => heard.push(p));
  stranger.send(Buffer.from('31'), port, '127.0.0.2');
  wrongPort.send(Buffer.from('31'), port, '127.0.0.2');
  const deadline = Date.now() + 2000;
  while (a.dropped < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(a.dropped, 2);
  assert.equal(heard.length, 0);
  assert.deepEqual(
    new Set(drops.map((d) => JSON.stringify(d))),
    new Set([
      JSON.stringify({ reason: 'NOT_A_PEER', from: { address: '127.0.0.4', port: stranger.address().port } }),
      JSON.stringify({ reason: 'NOT_A_PEER', from: { address: '127.0.0.3', port: wrongPort.address().port } }),
    ]),
  );
});

test('udp: two processes on loopback, an echo in a child process', async (t) => {
  const port = await freePort();
  const a = await openUdpTransport({ address: '127.0.0.2', port, peers: ['127.0.0.5'] });
  t.after(() => a.close());
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `
      import { openUdpTransport } from ${JSON.stringify(new URL('./transport-udp.ts', import.meta.url).href)};
      const t = await openUdpTransport({ address: '127.0.0.5', port: ${port}, peers: ['127.0.0.2'] });
      t.onMessage(async (payload, meta) => { await t.send(payload, meta.src); t.close(); });
      console.log('ready');
      `,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => child.kill());
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
  });
  const advert = Buffer.from('2133640101001cff0a630164', 'hex');
  const back = nextMessage(a);
  await a.send(advert, '127.0.0.5');
  const { payload, meta } = await back;
  assert.deepEqual(payload, advert);
  assert.deepEqual(meta, { src: '127.0.0.5', dst: '127.0.0.2', ttl: 255, ifindex: 0 });
  assert.equal((await new Promise((r) => child.once('exit', r))), 0);
});

test('udp: refuses what it cannot carry, saying why', async (t) => {
  const port = await freePort();
  await assert.rejects(openUdpTransport({ address: '0.0.0.0', port, peers: [] }), /address must be a specific IPv4 address/);
  await assert.rejects(openUdpTransport({ address: '127.0.0.2', port, peers: ['127.0.0.3', { address: '127.0.0.3', port: 1 }] }), /peer 127\.0\.0\.3 is listed twice; on one host give each node its own 127\.0\.0\.x/);
  await assert.rejects(openUdpTransport({ address: '127.0.0.2', port, peers: ['peer-b'] }), /peer "peer-b" is not an IPv4 address/);
  const a = await openUdpTransport({ address: '127.0.0.2', port, peers: ['127.0.0.3'] });
  t.after(() => a.close());
  await assert.rejects(openUdpTransport({ address: '127.0.0.2', port, peers: [] }), new RegExp(`cannot listen on 127\\.0\\.0\\.2:${port}: .*EADDRINUSE`));
  await assert.rejects(a.send(Buffer.from('31'), '224.0.0.18'), /224\.0\.0\.18 is not a configured peer \(peers: 127\.0\.0\.3\)/);
  a.close();
  a.close();
  await assert.rejects(a.send(Buffer.from('31'), '127.0.0.3'), /closed/);
});
