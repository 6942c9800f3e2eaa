/**
 * The dashboard server over HTTP on 127.0.0.1: the live stream sends the session, the
 * whole snapshot and checks once, then only patches that bring the page's copy to the
 * server's state; the assets are named by content hash, cached for good and gzipped.
 * The facade is made up here (as in bench/web.ts): what is tested is the server.
 */
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { webSchema } from '../../src/config/web-schema.ts';
import { createLogger } from '../../src/core/logger.ts';
import { newToken } from '../../src/web/auth.ts';
import type { CheckView, ClusterSnapshot, WebFacade } from '../../src/web/facade.ts';
import { applyPatch, type PatchOp } from '../../src/web/patch.ts';
import { WebServer } from '../../src/web/server.ts';

const token = newToken();
const web = webSchema.parse({ listen: '127.0.0.1:0', tokens: [{ name: 'reader', role: 'readonly', sha256: token.sha256 }] });
const auth = { authorization: `Bearer ${token.token}` };

const state = { time: 1, backend: 'up', check: 'OK' };
const snapshot = (): ClusterSnapshot => ({
  cluster: 'c',
  node: 'n1',
  time: state.time,
  nodes: [
    {
      name: 'n1',
      address: '127.0.0.1',
      roles: ['director'],
      self: true,
      reachable: true,
      status: {
        cluster: 'c',
        node: 'n1',
        pid: 1,
        workers: 1,
        config: '',
        services: [{ name: 'www', listen: ['127.0.0.1:80'], scheduler: 'swrr', requests: 0, panic: false, quorumLost: false, backends: [{ id: '127.0.0.1:81', name: 'web1', backup: false, weight: 1, effectiveWeight: 1, status: state.backend, active: 0, inactive: 0, requests: 0, failures: 0 }] }],
        vrrp: [],
      },
    },
  ],
  vrrp: [],
  checkTotals: {},
});
const checks = (): CheckView[] => [
  { object: 'h/a', host: 'h', service: 'a', kind: 'tcp', state: state.check, stateType: 'HARD', attempt: 1, maxAttempts: 1, output: state.check, lastCheck: 1, lastStateChange: 1, flapping: false, inDowntime: false, downtimes: [] },
  { object: 'h/b', host: 'h', service: 'b', kind: 'tcp', state: 'OK', stateType: 'HARD', attempt: 1, maxAttempts: 1, output: 'OK', lastCheck: 1, lastStateChange: 1, flapping: false, inDowntime: false, downtimes: [] },
];
const notUsed = () => ({ ok: false, message: 'not in this test' });
const facade: WebFacade = {
  webConfig: () => web,
  users: () => Promise.resolve({}),
  snapshot: () => Promise.resolve(snapshot()),
  checks,
  timeline: () => [],
  onTimeline: () => () => undefined,
  operateBackend: () => Promise.resolve(notUsed()),
  acknowledge: notUsed,
  removeAcknowledgement: notUsed,
  scheduleDowntime: notUsed,
  cancelDowntime: notUsed,
  downtimes: () => [],
  recheck: () => Promise.resolve(notUsed()),
  metrics: () => Promise.resolve([]),
  series: () => Promise.resolve(undefined),
  audit: () => undefined,
};

/** Reads Server-Sent Events from a response body. */
class Events {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buf = '';
  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader();
  }
  async next(timeoutMs = 5_000): Promise<{ event: string; data: unknown }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = this.#buf.indexOf('\n\n');
      if (end >= 0) {
        const frame = this.#buf.slice(0, end);
        this.#buf = this.#buf.slice(end + 2);
        if (frame.startsWith(':')) continue; // keepalive
        const event = /^event: (.*)$/m.exec(frame)?.[1] ?? 'message';
        const data = frame
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n');
        return { event, data: JSON.parse(data) as unknown };
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no event within ${timeoutMs} ms`);
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([this.#reader.read(), new Promise<never>((_, fail) => (timer = setTimeout(() => fail(new Error(`no event within ${timeoutMs} ms`)), left)))]);
      clearTimeout(timer);
      if (r.done) throw new Error('the stream ended');
      this.#buf += this.#decoder.decode(r.value, { stream: true });
    }
  }
  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dashboard server over HTTP', { timeout: 60_000 }, () => {
  let server: WebServer;
  before(async () => {
    server = new WebServer({ facade, log: createLogger({ level: 'silent', format: 'json' }), baseDir: '.' });
    await server.start();
  });
  after(() => server.close());

  test('the stream: session, the whole snapshot and checks once, then patches that bring the copy up to date', async () => {
    const r = await fetch(`${server.url}api/stream`, { headers: auth });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
    const ev = new Events(r.body!);
    try {
      assert.deepEqual(await ev.next(), { event: 'session', data: { user: 'reader', role: 'readonly', csrf: null } });
      const first = await ev.next();
      assert.equal(first.event, 'snapshot');
      let copy = first.data as ClusterSnapshot;
      assert.deepEqual(copy, snapshot());
      const cs = await ev.next();
      assert.equal(cs.event, 'checks');
      const byObject = new Map((cs.data as CheckView[]).map((c) => [c.object, c]));
      assert.equal((await ev.next()).event, 'timelineAll');

      // A backend goes down and a check turns CRITICAL: only that is sent.
      state.time = 2;
      state.backend = 'down';
      state.check = 'CRITICAL';
      const got = new Map<string, unknown>();
      while (got.size < 2) {
        const e = await ev.next(3_000);
        got.set(e.event, e.data);
      }
      const ops = got.get('snapshotPatch') as PatchOp[];
      assert.deepEqual(ops, [
        [['time'], 2],
        [['nodes', 0, 'status', 'services', 0, 'backends', 0, 'status'], 'down'],
      ]);
      copy = applyPatch(copy, ops);
      assert.deepEqual(copy, snapshot(), 'the patched copy is the server snapshot');
      const cp = got.get('checksPatch') as { set: CheckView[]; del: string[] };
      assert.deepEqual(
        cp.set.map((c) => [c.object, c.state]),
        [['h/a', 'CRITICAL']],
      );
      assert.deepEqual(cp.del, []);
      for (const c of cp.set) byObject.set(c.object, c);
      assert.deepEqual([...byObject.values()], checks());

      // Nothing changes: nothing is sent but keepalives.
      await assert.rejects(ev.next(1_500), /no event within/);
    } finally {
      await ev.cancel();
    }
  });

  test('a page connecting later starts from the current state', async () => {
    const r = await fetch(`${server.url}api/stream`, { headers: auth });
    const ev = new Events(r.body!);
    try {
      await ev.next();
      const s = await ev.next();
      assert.equal((s.data as ClusterSnapshot).nodes[0]!.status!.services[0]!.backends[0]!.status, 'down');
    } finally {
      await ev.cancel();
    }
  });

  test('without a login the stream is refused', async () => {
    const r = await fetch(`${server.url}api/stream`);
    assert.equal(r.status, 401);
  });

  test('assets: named by content hash, cached for good, gzipped on request; other names 404', async () => {
    const page = await get(server.url);
    assert.equal(page.status, 200);
    const js = /src="\/assets\/(app-[0-9a-f]{16}\.js)"/.exec(page.body.toString())?.[1];
    const css = /href="\/assets\/(app-[0-9a-f]{16}\.css)"/.exec(page.body.toString())?.[1];
    assert.ok(js !== undefined && css !== undefined, 'the page names hashed assets');
    const plain = await get(`${server.url}assets/${js}`);
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(plain.headers['content-encoding'], undefined);
    const zipped = await get(`${server.url}assets/${js}`, { 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.ok(zipped.body.length < plain.body.length / 2, `gzip ${zipped.body.length} of ${plain.body.length} bytes`);
    assert.deepEqual(gunzipSync(zipped.body), plain.body);
    const again = await get(`${server.url}assets/${js}`, { 'if-none-match': String(plain.headers.etag) });
    assert.equal(again.status, 304);
    assert.equal((await get(`${server.url}assets/${css}`)).headers['content-type'], 'text/css; charset=utf-8');
    assert.equal((await get(`${server.url}assets/app-0000000000000000.js`)).status, 404, 'an old bundle name');
    assert.equal((await get(`${server.url}assets/../../etc/passwd`)).status, 404);
    assert.equal((await get(`${server.url}assets/app.js`)).headers['cache-control'], 'no-cache');
  });
});
