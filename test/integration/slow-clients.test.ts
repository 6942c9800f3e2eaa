/**
 * Slow-client attacks with slowhttptest (Debian package): slowloris (-H), slow POST
 * (-B) and slow read (-X), a few hundred connections for 20 s each, against Palisade
 * with short client timeouts and, in the same run, against nginx with its classic
 * limits (limit_conn 100, short client timeouts), for comparison.
 *
 * During each attack a normal client (another source address) keeps asking; after
 * it, the attack connections must be gone, Palisade's upstream sockets back to the
 * baseline and its heap back near where it was.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { freePort, sleep, startBackend, startProxy, waitFor, type Backend } from '../helpers/http.ts';

const SLOWHTTPTEST = '/usr/bin/slowhttptest';
const NGINX = '/usr/sbin/nginx';
/** slowhttptest's -l: an upper bound; it ends once every connection it opened is closed. */
const ATTACK_SECONDS = 30;
/** Connections opened in all, RATE a second: the attack lasts CONNECTIONS / RATE s with a few hundred open at once. */
const CONNECTIONS = 2000;
const RATE = 100;
/** Terminal colour sequences in slowhttptest's output. */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
const BIG = Buffer.alloc(512 * 1024, 0x62);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

interface Attack {
  name: string;
  args: (url: string) => string[];
  path: string;
}

const ATTACKS: Attack[] = [
  { name: 'slowloris (-H)', path: '/', args: (u) => ['-H', '-i', '1', '-x', '24', '-u', u] },
  { name: 'slow POST (-B)', path: '/', args: (u) => ['-B', '-i', '1', '-x', '10', '-s', '65536', '-u', u] },
  { name: 'slow read (-X)', path: '/big', args: (u) => ['-X', '-k', '4', '-n', '1', '-w', '16', '-y', '64', '-z', '32', '-u', u] },
];

interface CsvRow {
  s: number;
  closed: number;
  pending: number;
  connected: number;
}

interface AttackResult {
  rows: CsvRow[];
  /** Most attack connections open at once. */
  maxConnected: number;
  /** First second after the ramp-up at which no attack connection was open; -1 = never. */
  allClosedAt: number;
  /** Seconds slowhttptest reported the service unavailable. */
  unavailable: number;
  /** Established connections on the server's port (ss), sampled every 500 ms: the server's own view. */
  serverMax: number;
  /** When slowhttptest had initiated its last connection (its CSV's Pending column reaching 0), seconds. */
  rampEnd: number;
  /** First sample after the ramp-up with no connection left on the server's side, seconds from the start; -1 = never. */
  serverClearAt: number;
  probes: { ok: number; failed: number; worstMs: number; statuses: Record<string, number> };
  exit: string;
}

/** One GET from 127.0.0.2 on a fresh connection: the status (0 on error or timeout) and the time it took. */
function probe(port: number, path: string): Promise<{ status: number; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s: Socket = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    let text = '';
    const done = (status: number): void => {
      clearTimeout(timer);
      s.destroy();
      resolve({ status, ms: performance.now() - t0 });
    };
    const timer = setTimeout(() => done(0), 5_000);
    s.on('connect', () => s.write(`GET ${path} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n`));
    s.on('data', (c: Buffer) => {
      text += c.toString('latin1');
    });
    s.on('close', () => done(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)));
    s.on('error', () => done(0));
  });
}

async function runAttack(t: TestContext, attack: Attack, port: number, dir: string, tag: string): Promise<AttackResult> {
  const prefix = join(dir, tag);
  const args = [...attack.args(`http://127.0.0.1:${port}${attack.path}`), '-c', String(CONNECTIONS), '-r', String(RATE), '-l', String(ATTACK_SECONDS), '-p', '3', '-g', '-o', prefix];
  const child = spawn(SLOWHTTPTEST, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const killer = setTimeout(() => child.kill('SIGKILL'), (ATTACK_SECONDS + 30) * 1000);
  t.after(() => {
    clearTimeout(killer);
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  // A normal client keeps asking from another address while the attack runs.
  const probes = { ok: 0, failed: 0, worstMs: 0, statuses: {} as Record<string, number> };
  const state = { running: true };
  void exited.then(() => {
    state.running = false;
  });
  const started = performance.now();
  const samples: { s: number; n: number }[] = [];
  const sampler = setInterval(() => {
    const r = spawnSync('ss', ['-Htn', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
    samples.push({ s: (performance.now() - started) / 1000, n: r.stdout.split('\n').filter((l) => l.trim() !== '').length });
  }, 500);
  await sleep(1_000);
  while (state.running) {
    const r = await probe(port, '/');
    probes.statuses[r.status] = (probes.statuses[r.status] ?? 0) + 1;
    if (r.status === 200) probes.ok++;
    else probes.failed++;
    probes.worstMs = Math.max(probes.worstMs, r.ms);
    await sleep(250);
  }
  await exited;
  clearTimeout(killer);
  // The server's side may still hold connections that slowhttptest gave up on: keep watching up to 10 s.
  const until = performance.now() + 10_000;
  while (performance.now() < until && (samples.length === 0 || samples.at(-1)!.n !== 0)) await sleep(250);
  clearInterval(sampler);
  const csv = existsSync(`${prefix}.csv`) ? readFileSync(`${prefix}.csv`, 'utf8') : '';
  const rows: CsvRow[] = [];
  for (const line of csv.split('\n').slice(1)) {
    const f = line.split(',');
    if (f.length < 5) continue;
    rows.push({ s: Number(f[0]), closed: Number(f[1]), pending: Number(f[2]), connected: Number(f[3]) });
  }
  // The ramp-up ends when the last connection was initiated; on a busy machine later than CONNECTIONS / RATE.
  const ramp = rows.find((r) => r.s > 0 && r.pending === 0)?.s ?? CONNECTIONS / RATE;
  const plain = out.replace(ANSI, '');
  const exit = /Exit status: ([^\n]*)/.exec(plain)?.[1]?.trim() ?? 'none';
  const ended = /Test ended on (\d+)/.exec(plain);
  // slowhttptest stops once every connection it opened is closed.
  const allClosedAt = exit.startsWith('No open connections left') && ended ? Number(ended[1]) : -1;
  return {
    rows,
    maxConnected: Math.max(0, ...rows.map((r) => r.connected)),
    allClosedAt,
    rampEnd: ramp,
    serverMax: Math.max(0, ...samples.map((x) => x.n)),
    serverClearAt: samples.find((x) => x.s > ramp && x.n === 0)?.s ?? -1,
    unavailable: (plain.match(/service available:\s+NO/g) ?? []).length,
    probes,
    exit,
  };
}

function describe(r: AttackResult): string {
  const st = Object.entries(r.probes.statuses)
    .map(([k, v]) => `${k === '0' ? 'error' : k}×${v}`)
    .join(' ');
  const server = `ramp-up ${r.rampEnd} s; server side: at most ${r.serverMax} connections established, none left ${r.serverClearAt < 0 ? 'never (within the test)' : `at ${r.serverClearAt.toFixed(1)} s`}`;
  return `${server}; slowhttptest: at most ${r.maxConnected} connected, all closed ${r.allClosedAt < 0 ? 'never (within the test)' : `at ${r.allClosedAt} s`}, saw the service unavailable ${r.unavailable} s; probe client: ${st}, worst ${r.probes.worstMs.toFixed(0)} ms; slowhttptest: ${r.exit}`;
}

function nginxConf(dir: string, port: number, backend: Backend): string {
  return `daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  server_tokens off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  limit_conn_zone $binary_remote_addr zone=perip:1m;
  upstream be { server ${backend.address}; keepalive 16; }
  server {
    listen 127.0.0.1:${port};
    limit_conn perip 100;
    client_header_timeout 2s;
    client_body_timeout 2s;
    send_timeout 3s;
    keepalive_timeout 2s;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`;
}

function openSockets(sockets: Set<unknown>): number {
  return sockets.size;
}

const missing = [SLOWHTTPTEST].filter((f) => !existsSync(f));

test('slow clients: slowloris, slow POST and slow read against Palisade (and nginx for comparison)', { skip: missing.length > 0 ? `missing ${missing.join(', ')} (scripts/setup-test-host.sh installs slowhttptest)` : false, timeout: 600_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-slow-'));
  chmodSync(dir, 0o755);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const upstreamSockets = new Set<Socket>();
  const backend = await startBackend(t, 'app', (req, res) => {
    if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BIG.length });
      res.end(BIG);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 3 });
    res.end('ok\n');
  });
  backend.server.on('connection', (s: Socket) => {
    upstreamSockets.add(s);
    s.on('close', () => upstreamSockets.delete(s));
  });
  const p = await startProxy(
    t,
    `
log: { level: warn, access: false }
services:
  www:
    listen: 127.0.0.1:0
    timeouts: { client_header: 2s, client_body: 2s, send: 3s, keepalive: 2s }
    keepalive: { idle_timeout: 1s }
    limits:
      limit_conn: { per_client: 100 }
      body_min_rate: 1k
    backends: [ ${backend.address} ]
`,
  );

  // nginx with the classic limits, when installed.
  let nginxPort = 0;
  if (existsSync(NGINX)) {
    const ndir = join(dir, 'nginx');
    mkdirSync(join(ndir, 'tmp'), { recursive: true });
    chmodSync(ndir, 0o755);
    chmodSync(join(ndir, 'tmp'), 0o777);
    nginxPort = await freePort();
    writeFileSync(join(ndir, 'nginx.conf'), nginxConf(ndir, nginxPort, backend));
    const check = spawnSync(NGINX, ['-t', '-q', '-p', `${ndir}/`, '-e', join(ndir, 'error.log'), '-c', join(ndir, 'nginx.conf')], { encoding: 'utf8' });
    assert.equal(check.status, 0, `nginx -t: ${check.stderr}`);
    const nginx = spawn(NGINX, ['-p', `${ndir}/`, '-e', join(ndir, 'error.log'), '-c', join(ndir, 'nginx.conf')], { stdio: 'ignore' });
    t.after(async () => {
      if (nginx.exitCode === null) {
        nginx.kill('SIGTERM'); // nginx's master stops its workers on SIGTERM
        await new Promise((r) => nginx.once('exit', r));
      }
    });
    await waitFor(async () => (await probe(nginxPort, '/')).status === 200, 10_000, 'nginx up');
  }

  // Baselines, after one request each way (a pooled upstream connection may exist; it idles out in 1 s).
  assert.equal((await probe(p.port, '/')).status, 200);
  await waitFor(() => openSockets(upstreamSockets) === 0 || nginxPort !== 0, 5_000, 'idle upstream sockets closed');
  const heapBefore = heapUsed();
  const table: string[] = [];

  // SLOW_ATTACKS=-X (or -H,-B) runs only those attacks.
  const only = process.env['SLOW_ATTACKS']?.split(',');
  for (const attack of ATTACKS.filter((a) => only === undefined || only.includes(a.args('')[0]!))) {
    const pal = await runAttack(t, attack, p.port, dir, `palisade-${attack.path === '/' ? attack.args('')[0] : 'X'}`);
    t.diagnostic(`Palisade, ${attack.name}: ${describe(pal)}`);
    table.push(`| ${attack.name} | ${describe(pal)} |`);
    // A normal client got its answers all along.
    assert.ok(pal.probes.ok > 0, 'the probe client ran');
    assert.equal(pal.probes.failed, 0, `${attack.name}: every probe got 200 (${JSON.stringify(pal.probes.statuses)})`);
    // Attack connections were closed within about the timeouts (2-3 s): never more open than
    // RATE a second for a few seconds, and all gone a few seconds after the last one opened.
    const ramp = pal.rampEnd;
    // Counted on the server's side: slowhttptest's slow-read mode does not notice a reset.
    assert.ok(pal.serverMax <= RATE * 6, `${attack.name}: at most ${RATE * 6} attack connections open at once (${pal.serverMax})`);
    assert.ok(pal.serverClearAt >= 0 && pal.serverClearAt <= ramp + 3 + 6, `${attack.name}: all attack connections closed by ${ramp + 9} s (at ${pal.serverClearAt} s)`);
    // Afterwards: no client connection counted, upstream sockets back to none, heap near the baseline.
    await waitFor(() => p.daemon.proxy!.snapshot()[0]!.limits!.connections === 0, 10_000, 'client connections gone');
    await waitFor(() => openSockets(upstreamSockets) === 0, 10_000, `${attack.name}: upstream sockets back to the baseline (${openSockets(upstreamSockets)} open)`);
    const heap = heapUsed();
    t.diagnostic(`Palisade, ${attack.name}: heap ${(heapBefore / 1048576).toFixed(1)} MiB before, ${(heap / 1048576).toFixed(1)} MiB after`);
    assert.ok(heap < heapBefore + 16 * 1048576, `${attack.name}: heap back near the baseline (${(heapBefore / 1048576).toFixed(1)} → ${(heap / 1048576).toFixed(1)} MiB)`);

    if (nginxPort !== 0) {
      const ngx = await runAttack(t, attack, nginxPort, dir, `nginx-${attack.path === '/' ? attack.args('')[0] : 'X'}`);
      t.diagnostic(`nginx, ${attack.name}: ${describe(ngx)}`);
      table[table.length - 1] += ` ${describe(ngx)} |`;
      await sleep(3_000);
    }
  }
  t.diagnostic(`attack | Palisade | nginx\n${table.join('\n')}`);
  const s = p.daemon.proxy!.snapshot()[0]!.limits!;
  t.diagnostic(`Palisade limits after the attacks: ${JSON.stringify(s)}`);
});
