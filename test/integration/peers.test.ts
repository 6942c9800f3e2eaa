/**
 * Nodes on other hosts: the dashboard and monitor node `mon` (127.0.0.1) and the
 * director `d1` (127.0.0.2), two `palisade run` processes, each with its OWN runtime
 * directory (its own copy of the cluster file), so that neither finds the other's
 * control socket and everything between them goes over the agent's HTTPS with the
 * cluster token. Through the dashboard's API (real login, CSRF): d1 is reachable with
 * its VRRP state and backends; a drain reaches d1 (checked through d1's proxy); d1's
 * VRRP transition and a backend going down reach mon's timeline and the webhook of
 * `monitor.palisade_events`; a restarted d1 is read again from its first event; a
 * wrong token is refused.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { hashPassword } from '../../src/web/auth.ts';
import type { ClusterSnapshot, TimelineEntry } from '../../src/web/facade.ts';
import { webhookReceiver } from '../helpers/webhook.ts';
import { freePort, startBackend } from '../helpers/http.ts';

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
const TOKEN = 'peers-token-0123456789abcdef';

/** Waits for `cond` (every 100 ms); the failure says `what`, computed then (it may show the last state seen). */
async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string | (() => string)): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
}

function start(t: TestContext, file: string, node: string): { child: ChildProcess; out: () => string } {
  const child = spawn(process.execPath, [MAIN, 'run', '-c', file, '--node', node], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, out: () => out };
}

function absent(path: string): Promise<boolean> {
  return access(path).then(
    () => false,
    () => true,
  );
}

/** HTTPS to a node API (self-signed certificates here: not verified). */
function https(address: string, port: number, method: string, path: string, token: string | undefined, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: address, port, path, method, rejectUnauthorized: false, headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...(token !== undefined && { authorization: `Bearer ${token}` }) } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One request through d1's proxy on a fresh connection; the answering backend's name. */
function viaProxy(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.2', port, path: '/', agent: false, timeout: 5_000 }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => resolve(text.trim()));
    });
    req.on('timeout', () => req.destroy(new Error('no answer from the proxy')));
    req.on('error', reject);
    req.end();
  });
}

test('peers: the dashboard on one host sees, drains and hears a director on another over the agent HTTPS', { timeout: 180_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-peers-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const hook = await webhookReceiver(t);
  const b1 = await startBackend(t, 'b1');
  const b2 = await startBackend(t, 'b2');
  const [agentPort, webPort, proxyPort, udpPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const adminHash = await hashPassword('admin-password');
  const cluster = (node: string) => `cluster: { name: peers }
runtime_dir: ${join(dir, `run-${node}`)}
log: { level: info, format: json }
nodes:
  mon: { address: 127.0.0.1, roles: [] }
  d1: { address: 127.0.0.2, roles: [director] }
agent: { token: ${TOKEN}, port: ${agentPort} }
services:
  www:
    listen: 127.0.0.2:${proxyPort}
    backends:
      - { address: ${b1.address}, name: b1 }
      - { address: ${b2.address}, name: b2 }
    health: { type: tcp, interval: 200ms, timeout: 500ms, fall: 2, rise: 1, jitter: 0 }
vrrp:
  instances:
    VI_1: { vrid: 61, interface: lo, transport: udp, udp_port: ${udpPort}, advert_interval: 200ms, virtual_ipaddress: [127.0.0.61/32], members: { d1: 150 } }
web:
  node: mon
  listen: 127.0.0.1:${webPort}
  users:
    admin: { role: admin, password_hash: "${adminHash}" }
monitor:
  store: { path: ${join(dir, `monitor-${node}.db`)} }
  contacts:
    ops: { webhook: "${hook.url}" }
  palisade_events: { contacts: [ops] }
  delivery: { backoff: 200ms, attempts: 3 }
`;
  const [monFile, d1File] = [join(dir, 'cluster-mon.yaml'), join(dir, 'cluster-d1.yaml')];
  await writeFile(monFile, cluster('mon'));
  await writeFile(d1File, cluster('d1'));

  // The monitor first: d1's events from its start on are news to it.
  const mon = start(t, monFile, 'mon');
  const base = `http://127.0.0.1:${webPort}`;
  await waitFor(() => mon.out().includes('dashboard on'), 30_000, `mon's dashboard (output: ${mon.out().slice(-2000)})`);
  let d1 = start(t, d1File, 'd1');
  await waitFor(() => d1.out().includes('palisade started'), 30_000, `d1 to start (output: ${d1.out().slice(-2000)})`);
  assert.match(d1.out(), /agent listening on https:\/\/127\.0\.0\.2:\d+ \(0 check\(s\), node API\)/, 'a director without the agent role serves the node API');

  // Neither finds the other's control socket: everything below went over HTTPS.
  assert.ok(await absent(join(dir, 'run-mon', 'peers-d1.sock')), "d1's control socket is not in mon's runtime directory");
  assert.ok(!(await absent(join(dir, 'run-d1', 'peers-d1.sock'))), "d1's control socket is in its own runtime directory");

  // A real login and its CSRF token.
  const login = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'admin', password: 'admin-password' }) });
  assert.equal(login.status, 200);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  const { csrf } = (await login.json()) as { csrf: string };
  const get = async <T>(path: string): Promise<T> => {
    const r = await fetch(`${base}${path}`, { headers: { cookie } });
    assert.equal(r.status, 200, path);
    return (await r.json()) as T;
  };
  const post = async (path: string, withCsrf = true) => {
    const r = await fetch(`${base}${path}`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', ...(withCsrf && { 'x-csrf-token': csrf }) }, body: '{}' });
    return { status: r.status, body: (await r.json()) as { ok?: boolean; message?: string; error?: string } };
  };
  const d1View = async () => (await get<ClusterSnapshot>('/api/snapshot')).nodes.find((n) => n.name === 'd1');
  const backendState = async (name: string) => (await d1View())?.status?.services.find((s) => s.name === 'www')?.backends.find((b) => b.name === name)?.status;
  const timeline = () => get<TimelineEntry[]>('/api/timeline?limit=1000');

  // d1 reachable, with its VRRP state and its backends.
  let last: unknown;
  await waitFor(
    async () => {
      const snap = await get<ClusterSnapshot>('/api/snapshot');
      last = snap;
      const n = snap.nodes.find((x) => x.name === 'd1');
      const vi = snap.vrrp.find((v) => v.instance === 'VI_1');
      return n?.reachable === true && vi?.holders.join() === 'd1' && n.status?.services.find((s) => s.name === 'www')?.backends.every((b) => b.status === 'up') === true;
    },
    30_000,
    () => `d1 reachable, MASTER of VI_1, backends up (last snapshot: ${JSON.stringify(last)?.slice(0, 1500)})`,
  );
  const n = (await d1View())!;
  assert.equal(n.self, false);
  assert.deepEqual(n.status!.services.find((s) => s.name === 'www')!.backends.map((b) => b.name).toSorted(), ['b1', 'b2']);
  assert.equal(n.status!.vrrp.find((v) => v.instance === 'VI_1')?.state, 'MASTER');

  // d1's VRRP transition to MASTER: in mon's timeline (d1's event, polled) and at the webhook.
  await waitFor(async () => (await timeline()).some((e) => e.kind === 'vrrp_transition' && e.state === 'MASTER' && e.message.startsWith('d1: ')), 20_000, "d1's MASTER transition in mon's timeline");
  await waitFor(() => hook.got.some((h) => h.type === 'EVENT' && h.state === 'MASTER' && h.output.includes('d1')), 20_000, () => `d1's MASTER transition at the webhook (got ${JSON.stringify(hook.got)})`);

  // A drain through the dashboard reaches d1: refused without CSRF, then done; d1's proxy stops sending to b1.
  const noCsrf = await post('/api/backends/www/b1/drain', false);
  assert.equal(noCsrf.status, 403);
  assert.equal(await backendState('b1'), 'up', 'a refused request changed nothing');
  const drained = await post('/api/backends/www/b1/drain');
  assert.equal(drained.status, 200, drained.body.error);
  assert.match(drained.body.message ?? '', /^d1: /);
  await waitFor(async () => (await backendState('b1')) === 'drain', 10_000, 'b1 drained on d1');
  const before = b1.seen.length;
  const answers = [];
  for (let i = 0; i < 6; i++) answers.push(await viaProxy(proxyPort));
  assert.deepEqual(answers, Array(6).fill('b2'), 'the drained backend gets no new requests');
  assert.equal(b1.seen.length, before);
  assert.ok((await timeline()).some((e) => e.kind === 'audit' && e.actor === 'admin' && e.state === 'backend drain' && e.subject === 'www/b1'), 'audited');
  const enabled = await post('/api/backends/www/b1/enable');
  assert.equal(enabled.status, 200, enabled.body.error);
  await waitFor(async () => (await backendState('b1')) === 'up', 10_000, 'b1 enabled again on d1');

  // A backend flip on d1 (b2 stops): in mon's timeline and at the webhook.
  await b2.close();
  await waitFor(async () => (await timeline()).some((e) => e.kind === 'backend_state' && e.state === 'DOWN' && e.subject.includes(String(b2.port)) && e.message.startsWith('d1: ')), 20_000, "b2 DOWN on d1 in mon's timeline");
  await waitFor(() => hook.got.some((h) => h.type === 'EVENT' && h.service === 'backend' && h.state === 'DOWN' && h.host.includes(String(b2.port))), 20_000, () => `b2 DOWN at the webhook (got ${JSON.stringify(hook.got)})`);
  const downs = (await timeline()).filter((e) => e.kind === 'backend_state' && e.state === 'DOWN' && e.subject.includes(String(b2.port)));
  assert.equal(downs.length, 1, 'each event once in the timeline');

  // A wrong token is refused (and changes nothing); the right one answers.
  const wrong = await https('127.0.0.2', agentPort, 'GET', '/v1/status', 'not-the-token-0123456789');
  assert.equal(wrong.status, 401);
  assert.equal((await https('127.0.0.2', agentPort, 'GET', '/v1/events?after=0', undefined)).status, 401);
  const wrongDrain = await https('127.0.0.2', agentPort, 'POST', '/v1/backend', 'not-the-token-0123456789', JSON.stringify({ service: 'www', backend: 'b1', action: 'maint' }));
  assert.equal(wrongDrain.status, 401);
  assert.equal(await backendState('b1'), 'up', 'the refused action changed nothing');
  const right = await https('127.0.0.2', agentPort, 'GET', '/v1/status', TOKEN);
  assert.equal(right.status, 200);
  assert.equal((JSON.parse(right.body) as { node: string }).node, 'd1');
  await waitFor(() => d1.out().includes('request with a wrong or missing token refused'), 10_000, "d1's log line for the wrong token");

  // d1 restarts: mon reads the new run from its first event (its MASTER transition again).
  const masters = async () => (await timeline()).filter((e) => e.kind === 'vrrp_transition' && e.state === 'MASTER' && e.message.startsWith('d1: ')).length;
  const mastersBefore = await masters();
  d1.child.kill('SIGTERM');
  await new Promise((r) => d1.child.once('exit', r));
  await waitFor(async () => (await d1View())?.reachable === false, 15_000, 'd1 not reachable while stopped');
  d1 = start(t, d1File, 'd1');
  await waitFor(async () => (await masters()) > mastersBefore, 40_000, () => `d1's new MASTER transition after its restart (mon output: ${mon.out().slice(-1500)})`);
  assert.match(mon.out(), /node d1 restarted; reading its events from the start/);
});
