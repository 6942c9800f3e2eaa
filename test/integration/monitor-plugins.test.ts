/**
 * The real Monitoring Plugins from Debian (`monitoring-plugins`, /usr/lib/nagios/plugins)
 * run through Palisade's plugin runner, and each built-in check beside its plugin twin
 * on this host: same state, same perfdata labels and units. TCP and HTTP against real
 * servers on 127.0.0.1; the runner's limits (timeout kills the process group, output
 * cap, exit codes outside 0-3, environment) with real processes.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { access, chmod, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { startBackend } from '../helpers/http.ts';
import { checkSchema } from '../../src/config/check-schema.ts';
import { encodeUtmp, USER_PROCESS } from '../../src/monitor/builtin/users.ts';
import { runFsResponsive } from '../../src/monitor/builtin/fs-responsive.ts';
import { runPlugin } from '../../src/monitor/plugin/runner.ts';
import { createCheck } from '../../src/monitor/run.ts';
import type { CheckResult } from '../../src/monitor/result.ts';

const run = promisify(execFile);
const P = '/usr/lib/nagios/plugins';
let skip: string | false = false;
let dir = '';

before(async () => {
  try {
    await access(`${P}/check_load`);
  } catch {
    skip = 'monitoring-plugins is not installed (scripts/setup-test-host.sh installs it)';
    return;
  }
  dir = await mkdtemp(join(tmpdir(), 'palisade-plugins-'));
});
after(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

function plugin(...argv: string[]): Promise<CheckResult> {
  const [name, ...args] = argv;
  return createCheck(checkSchema.parse({ plugin: [`${P}/${name}`, ...args], timeout: '20s' })).run();
}

function builtin(options: Record<string, unknown>): Promise<CheckResult> {
  return createCheck(checkSchema.parse({ timeout: '20s', ...options })).run();
}

/** Same state, same perfdata labels and units. */
function sameShape(p: CheckResult, b: CheckResult, what: string): void {
  assert.equal(b.state, p.state, `${what}: builtin "${b.summary}" vs plugin "${p.summary}"`);
  assert.deepEqual(b.perfdata.map((d) => `${d.label}[${d.uom}]`), p.perfdata.map((d) => `${d.label}[${d.uom}]`), what);
}

/** True once `pid` has ended (gone, or a zombie waiting for whoever inherited it to reap it); waits up to 5 s. */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') return true;
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

function freePct(summary: string): number {
  return Number(/\((\d+)% inode=(\d+)%\)/.exec(summary)![1]);
}

async function listen(t: TestContext, onConn: (s: import('node:net').Socket) => void): Promise<number> {
  const server: Server = createNetServer((s) => {
    // Read (and drop) whatever comes, so a client's close is seen and server.close() can finish.
    s.resume();
    onConn(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

test('check_load: states and perfdata through the runner; the load builtin matches it', async (t) => {
  if (skip) return t.skip(skip);
  const p = await plugin('check_load', '-w', '500,400,300', '-c', '1000,800,600');
  assert.equal(p.state, 'OK', p.summary);
  assert.match(p.summary, /^LOAD OK - total load average: [\d.]+, [\d.]+, [\d.]+$/);
  assert.deepEqual(p.perfdata.map((d) => [d.label, d.uom, d.warn, d.crit, d.min]), [
    ['load1', '', '500.000', '1000.000', 0], ['load5', '', '400.000', '800.000', 0], ['load15', '', '300.000', '600.000', 0],
  ]);
  sameShape(p, await builtin({ builtin: 'load', warning: '500,400,300', critical: '1000,800,600' }), 'load');
  // Thresholds below any load: CRITICAL from both (-c 0 makes any positive load critical; a load of exactly 0.00 is OK).
  const pc = await plugin('check_load', '-w', '0,0,0', '-c', '0,0,0');
  const bc = await builtin({ builtin: 'load', warning: '0,0,0', critical: '0,0,0' });
  assert.equal(bc.state, pc.state);
  const pr = await plugin('check_load', '-r', '-w', '500,400,300', '-c', '1000,800,600');
  sameShape(pr, await builtin({ builtin: 'load', per_cpu: true, warning: '500,400,300', critical: '1000,800,600' }), 'load per CPU');
});

test('check_swap and the swap builtin agree (this host may have no swap: both CRITICAL then)', async (t) => {
  if (skip) return t.skip(skip);
  const p = await plugin('check_swap', '-w', '20%', '-c', '10%');
  const b = await builtin({ builtin: 'swap', warning: '20%', critical: '10%' });
  sameShape(p, b, 'swap');
  assert.deepEqual(p.perfdata.map((d) => [d.label, d.uom]), [['swap', 'B']]);
  const swapTotal = Number(/SwapTotal:\s+(\d+)/.exec(await readFile('/proc/meminfo', 'utf8'))![1]);
  if (swapTotal === 0) {
    assert.equal(p.state, 'CRITICAL');
    assert.match(b.summary, /Swap is either disabled, not present, or of zero size/);
    assert.equal((await builtin({ builtin: 'swap', no_swap: 'OK' })).state, 'OK');
  } else assert.equal(b.perfdata[0]!.max, p.perfdata[0]!.max);
});

test('check_procs: total, by state and by command name; the procs builtin matches it', async (t) => {
  if (skip) return t.skip(skip);
  const total = await plugin('check_procs');
  const mine = await builtin({ builtin: 'procs' });
  sameShape(total, mine, 'procs total');
  assert.ok(Math.abs(total.perfdata[0]!.value - mine.perfdata[0]!.value) <= 15, `plugin ${total.perfdata[0]!.value} vs builtin ${mine.perfdata[0]!.value}`);
  sameShape(await plugin('check_procs', '-s', 'Z', '-w', '5', '-c', '10'), await builtin({ builtin: 'procs', state: 'Z', warning: '5', critical: '10' }), 'zombies');

  // "Is it running": two processes with a name of our own.
  const name = 'pal-mon-probe';
  await copyFile('/bin/sleep', join(dir, name));
  await chmod(join(dir, name), 0o755);
  const kids: ChildProcess[] = [spawn(join(dir, name), ['300'], { stdio: 'ignore' }), spawn(join(dir, name), ['300'], { stdio: 'ignore' })];
  t.after(() => kids.forEach((k) => k.exitCode === null && k.kill('SIGKILL')));
  await new Promise((r) => setTimeout(r, 200));
  const p2 = await plugin('check_procs', '-C', name, '-c', '2:2');
  const b2 = await builtin({ builtin: 'procs', command: name, critical: '2:2' });
  assert.equal(p2.summary, `PROCS OK: 2 processes with command name '${name}'`);
  assert.equal(b2.summary, p2.summary);
  assert.deepEqual(b2.perfdata, p2.perfdata);
  kids[0]!.kill('SIGKILL');
  await new Promise((r) => kids[0]!.once('exit', r));
  const p1 = await plugin('check_procs', '-C', name, '-c', '2:2');
  const b1 = await builtin({ builtin: 'procs', command: name, critical: '2:2' });
  assert.equal(p1.state, 'CRITICAL');
  assert.equal(b1.summary, p1.summary);
  // By command-line substring.
  sameShape(await plugin('check_procs', '-a', `${name} 300`, '-c', '1:1'), await builtin({ builtin: 'procs', args: `${name} 300`, critical: '1:1' }), 'by args');
});

test('check_disk on /: same state, label, unit and size; CRITICAL thresholds agree', async (t) => {
  if (skip) return t.skip(skip);
  const p = await plugin('check_disk', '-w', '1%', '-c', '0.5%', '-p', '/');
  const b = await builtin({ builtin: 'disk', path: '/', warning: '1%', critical: '0.5%' });
  sameShape(p, b, 'disk');
  assert.deepEqual(b.perfdata.map((d) => [d.label, d.uom]), [['/', 'B']]);
  const [pd, bd] = [p.perfdata[0]!, b.perfdata[0]!];
  assert.ok(Math.abs(pd.max! - bd.max!) / pd.max! < 0.001, `size ${pd.max} vs ${bd.max}`);
  assert.ok(Math.abs(pd.value - bd.value) / pd.max! < 0.01, `used ${pd.value} vs ${bd.value}`);
  assert.ok(Math.abs(Number(pd.warn) - Number(bd.warn)) / pd.max! < 0.001, `warn ${pd.warn} vs ${bd.warn}`);
  assert.ok(Math.abs(freePct(p.summary) - freePct(b.summary)) <= 1, `${p.summary} vs ${b.summary}`);
  sameShape(await plugin('check_disk', '-w', '100%', '-c', '99.99%', '-p', '/'), await builtin({ builtin: 'disk', path: '/', warning: '100%', critical: '99.99%' }), 'disk critical');
  const inodes = await builtin({ builtin: 'disk', path: '/', inode_critical: '100%' });
  assert.equal(inodes.state, 'CRITICAL');
});

test('check_tcp and the tcp builtin against real listeners on 127.0.0.1', async (t) => {
  if (skip) return t.skip(skip);
  const silent = await listen(t, (s) => s.on('error', () => {}));
  const greeter = await listen(t, (s) => {
    s.on('error', () => {});
    s.once('data', (d) => s.end(`HELLO ${String(d).trim()}\r\n`));
  });
  const p = await plugin('check_tcp', '-H', '127.0.0.1', '-p', String(silent));
  const b = await builtin({ builtin: 'tcp', port: silent });
  sameShape(p, b, 'tcp connect');
  assert.match(b.summary, new RegExp(`^TCP OK - [\\d.]+ second response time on 127\\.0\\.0\\.1 port ${silent}$`));
  // max is the timeout: check_tcp's own -t (10 s by default), the builtin's `timeout`.
  assert.deepEqual(p.perfdata.map((d) => [d.label, d.uom, d.min, d.max]), [['time', 's', 0, 10]]);
  assert.deepEqual(b.perfdata.map((d) => [d.label, d.uom, d.min, d.max]), [['time', 's', 0, 20]]);

  sameShape(await plugin('check_tcp', '-H', '127.0.0.1', '-p', String(greeter), '-s', 'ping\n', '-e', 'HELLO'), await builtin({ builtin: 'tcp', port: greeter, send: 'ping\n', expect: 'HELLO' }), 'send/expect');
  const pm = await plugin('check_tcp', '-H', '127.0.0.1', '-p', String(greeter), '-s', 'ping\n', '-e', 'BYE');
  const bm = await builtin({ builtin: 'tcp', port: greeter, send: 'ping\n', expect: 'BYE' });
  assert.equal(pm.state, 'WARNING');
  assert.equal(bm.state, 'WARNING');
  assert.match(bm.summary, /Unexpected response from host\/socket: HELLO ping/);
  assert.equal((await builtin({ builtin: 'tcp', port: greeter, send: 'ping\n', expect: 'BYE', mismatch: 'CRITICAL' })).state, 'CRITICAL');

  const closed = await listen(t, () => {});
  await new Promise((r) => setTimeout(r, 10));
  // A port nobody listens on: a fresh one, closed again.
  const spare = createNetServer();
  await new Promise<void>((r) => spare.listen(0, '127.0.0.1', r));
  const port = (spare.address() as AddressInfo).port;
  await new Promise<void>((r) => spare.close(() => r()));
  const pr = await plugin('check_tcp', '-H', '127.0.0.1', '-p', String(port));
  const br = await builtin({ builtin: 'tcp', port });
  assert.equal(pr.state, 'CRITICAL');
  assert.equal(br.state, 'CRITICAL');
  assert.equal(br.summary, pr.summary, 'same words for a refused connect');
  assert.ok(closed > 0);
});

test('check_http and the http builtin: status, body string, https certificate expiry', async (t) => {
  if (skip) return t.skip(skip);
  const web = await startBackend(undefined, 'web', (req, res) => {
    if (req.url === '/missing') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not here\n');
    } else if (req.url === '/broken') {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('down\n');
    } else {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('all systems nominal\n');
    }
  });
  t.after(() => web.close());
  const url = (path: string) => `http://127.0.0.1:${web.port}${path}`;
  const cases: Array<[string[], Record<string, unknown>, string]> = [
    [['-u', '/'], { url: url('/') }, 'OK'],
    [['-u', '/missing'], { url: url('/missing') }, 'WARNING'],
    [['-u', '/broken'], { url: url('/broken') }, 'CRITICAL'],
    [['-u', '/', '-s', 'nominal'], { url: url('/'), contains: 'nominal' }, 'OK'],
    [['-u', '/', '-s', 'zzz'], { url: url('/'), contains: 'zzz' }, 'CRITICAL'],
    [['-u', '/', '-r', 'sys.ems'], { url: url('/'), matches: 'sys.ems' }, 'OK'],
    [['-u', '/missing', '-e', '200'], { url: url('/missing'), expect: 200 }, 'CRITICAL'],
  ];
  for (const [args, opts, state] of cases) {
    const p = await plugin('check_http', '-H', '127.0.0.1', '-p', String(web.port), ...args);
    const b = await builtin({ builtin: 'http', ...opts });
    assert.equal(p.state, state, `${args.join(' ')}: ${p.summary}`);
    // check_http prints no perfdata for an unexpected status; the builtin keeps time and size.
    if (args.includes('-e')) assert.equal(b.state, state, b.summary);
    else sameShape(p, b, args.join(' '));
  }
  const ok = await builtin({ builtin: 'http', url: url('/') });
  assert.match(ok.summary, /^HTTP OK: HTTP\/1\.1 200 OK - 20 bytes in [\d.]+ second response time$/);
  assert.deepEqual(ok.perfdata.map((d) => [d.label, d.uom, d.value]).slice(1), [['size', 'B', 20]]);

  // https with a self-signed certificate that expires in 10 days.
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '10', '-subj', '/CN=expiring.test']);
  const tls = createHttpsServer({ key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) }, (_req, res) => res.end('secure\n'));
  await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => tls.close(() => r())));
  const tlsPort = (tls.address() as AddressInfo).port;
  const pc = await plugin('check_http', '-H', '127.0.0.1', '-p', String(tlsPort), '--ssl', '-C', '30,14');
  assert.equal(pc.state, 'CRITICAL', pc.summary);
  const bc = await builtin({ builtin: 'http', url: `https://127.0.0.1:${tlsPort}/` });
  assert.equal(bc.state, 'CRITICAL');
  assert.match(bc.summary, /certificate 'expiring\.test' expires in (9|10) days/);
  assert.equal((await builtin({ builtin: 'http', url: `https://127.0.0.1:${tlsPort}/`, certificate_warning_days: 20, certificate_critical_days: 5 })).state, 'WARNING');
  assert.equal((await builtin({ builtin: 'http', url: `https://127.0.0.1:${tlsPort}/`, certificate_warning_days: 5, certificate_critical_days: 2 })).state, 'OK');
  const verified = await builtin({ builtin: 'http', url: `https://127.0.0.1:${tlsPort}/`, tls_verify: true });
  assert.equal(verified.state, 'CRITICAL');
  assert.match(verified.summary, /self.signed/i);
});

test('check_users and the users builtin; allowed: names anyone else logged in', async (t) => {
  if (skip) return t.skip(skip);
  const p = await plugin('check_users', '-w', '5', '-c', '10');
  assert.deepEqual(p.perfdata.map((d) => [d.label, d.uom, d.warn, d.crit, d.min]), [['users', '', '5', '10', 0]]);
  // The builtin reads the same utmp as check_users (glibc's default, /var/run/utmp).
  const b = await builtin({ builtin: 'users', warning: 5, critical: 10 });
  sameShape(p, b, 'users');
  assert.equal(b.perfdata[0]!.value, p.perfdata[0]!.value);

  // A utmp with two sessions: alice (allowed) and mallory (not).
  const utmp = join(dir, 'utmp');
  await writeFile(utmp, Buffer.concat([
    encodeUtmp({ type: 2, pid: 0, line: '~', user: 'reboot', host: '6.1.0' }),
    encodeUtmp({ type: USER_PROCESS, pid: 4242, line: 'pts/0', user: 'alice', host: '192.0.2.7' }),
    encodeUtmp({ type: USER_PROCESS, pid: 4343, line: 'pts/1', user: 'mallory', host: '198.51.100.9' }),
    encodeUtmp({ type: 8, pid: 4141, line: 'pts/2', user: '', host: '' }),
  ]));
  const two = await builtin({ builtin: 'users', utmp, allowed: ['alice', 'root'] });
  assert.equal(two.state, 'CRITICAL');
  assert.equal(two.summary, 'USERS CRITICAL - 2 users currently logged in, not allowed: mallory');
  assert.equal(two.longOutput, 'mallory on pts/1 from 198.51.100.9 (pid 4343)');
  assert.equal((await builtin({ builtin: 'users', utmp, allowed: ['alice', 'mallory'] })).state, 'OK');
  assert.equal((await builtin({ builtin: 'users', utmp, warning: 1, critical: 5 })).state, 'WARNING');
});

test('the runner: a hanging plugin is killed with its children at its timeout', async (t) => {
  if (skip) return t.skip(skip);
  const pids = join(dir, 'pids');
  const script = join(dir, 'hang.sh');
  await writeFile(script, `#!/bin/sh\necho "starting | x=1"\nsleep 300 & echo $! >> ${pids}\nsleep 300 & echo $! >> ${pids}\necho $$ >> ${pids}\nwait\n`);
  await chmod(script, 0o755);
  const t0 = performance.now();
  const r = await createCheck(checkSchema.parse({ plugin: [script], timeout: '1500ms' })).run();
  const took = performance.now() - t0;
  assert.equal(r.state, 'UNKNOWN');
  assert.equal(r.summary, 'plugin timed out after 1500ms and was killed');
  assert.equal(r.longOutput, 'starting');
  assert.ok(took >= 1_400 && took < 10_000, `took ${took} ms`);
  const list = (await readFile(pids, 'utf8')).trim().split('\n').map(Number);
  assert.equal(list.length, 3);
  for (const pid of list) assert.ok(await gone(pid), `pid ${pid} still alive`);
});

test('the runner: huge output is capped and noted; exit codes outside 0-3, signals and env', async (t) => {
  if (skip) return t.skip(skip);
  const big = join(dir, 'big.sh');
  await writeFile(big, '#!/bin/sh\necho "BIG OK - lots | n=1"\nhead -c 5000000 /dev/zero | tr "\\0" "x"\nexit 0\n');
  await chmod(big, 0o755);
  const r = await createCheck(checkSchema.parse({ plugin: [big], max_output: '16k' })).run();
  assert.equal(r.state, 'OK');
  assert.equal(r.summary, 'BIG OK - lots');
  assert.deepEqual(r.perfdata.map((d) => d.label), ['n']);
  assert.ok(r.longOutput.length < 17_000, `long output ${r.longOutput.length} chars`);
  assert.match(r.longOutput, /\(output capped: \d+ more bytes dropped\)$/);
  const dropped = Number(/capped: (\d+)/.exec(r.longOutput)![1]);
  assert.equal(dropped + 16 * 1024, 5_000_000 + 'BIG OK - lots | n=1\n'.length);

  const odd = join(dir, 'odd.sh');
  await writeFile(odd, '#!/bin/sh\necho "FOO=$FOO HOME=${HOME:-unset} LC_ALL=$LC_ALL"\nexit ${CODE:-0}\n');
  await chmod(odd, 0o755);
  const env = await runPlugin({ argv: [odd], timeoutMs: 5000, env: { FOO: 'bar' } });
  assert.equal(env.summary, 'FOO=bar HOME=unset LC_ALL=C', 'only PATH, the C locale and env reach the plugin');
  const bad = await runPlugin({ argv: [odd], timeoutMs: 5000, env: { CODE: '7' } });
  assert.equal(bad.state, 'UNKNOWN');
  assert.equal(bad.summary, 'plugin exited with code 7 (not 0-3)');
  const dummy = await plugin('check_dummy', '2', 'a critical thing');
  assert.deepEqual([dummy.state, dummy.summary], ['CRITICAL', 'CRITICAL: a critical thing']);
  const killed = await runPlugin({ argv: ['/bin/sh', '-c', 'echo partial; kill -SEGV $$'], timeoutMs: 5000 });
  assert.deepEqual([killed.state, killed.summary, killed.longOutput], ['UNKNOWN', 'plugin was killed by SIGSEGV', 'partial']);
  const missing = await runPlugin({ argv: [join(dir, 'no-such-plugin')], timeoutMs: 5000 });
  assert.equal(missing.state, 'UNKNOWN');
  assert.match(missing.summary, /could not be started: .*no-such-plugin: ENOENT/);
});

test('fs_responsive: OK on a live mount; a stat that hangs is CRITICAL at the timeout and its process is killed', async (t) => {
  if (skip) return t.skip(skip);
  const ok = await builtin({ builtin: 'fs_responsive', path: '/' });
  assert.equal(ok.state, 'OK', ok.summary);
  assert.deepEqual(ok.perfdata.map((d) => [d.label, d.uom]), [['time', 's']]);
  assert.equal((await builtin({ builtin: 'fs_responsive', path: join(dir, 'nowhere') })).state, 'CRITICAL');
  // A stand-in for a stat stuck on a dead NFS server (a real D-state hang needs a dead server).
  const pidFile = join(dir, 'stat.pid');
  const hung = join(dir, 'hung-stat');
  await writeFile(hung, `#!/bin/sh\necho $$ > ${pidFile}\nexec sleep 300\n`);
  await chmod(hung, 0o755);
  const opts = checkSchema.parse({ builtin: 'fs_responsive', path: '/srv/nfs', timeout: '700ms' });
  assert.ok('builtin' in opts && opts.builtin === 'fs_responsive');
  const t0 = performance.now();
  const r = await runFsResponsive(opts, { now: Date.now, signal: new AbortController().signal }, hung);
  const took = performance.now() - t0;
  assert.equal(r.state, 'CRITICAL');
  assert.equal(r.summary, 'FS CRITICAL - /srv/nfs did not answer stat within 0.7 seconds (hung mount?)');
  assert.ok(took < 5_000, `took ${took} ms`);
  const pid = Number(await readFile(pidFile, 'utf8'));
  assert.ok(await gone(pid), `stat stand-in ${pid} still alive`);
});

test('a built-in check whose server never answers ends at its timeout; an abort stops a plugin', async (t) => {
  if (skip) return t.skip(skip);
  // Accepts and says nothing: a MariaDB client waits for the greeting.
  const mute = await listen(t, (s) => s.on('error', () => {}));
  const t0 = performance.now();
  const r = await builtin({ builtin: 'mysql_replica', port: mute, timeout: '500ms' });
  const took = performance.now() - t0;
  assert.deepEqual([r.state, r.summary], ['CRITICAL', `REPLICA CRITICAL - 127.0.0.1:${mute}: no answer within 0.5 seconds`]);
  assert.ok(took < 3_000, `took ${took} ms`);
  const http = await builtin({ builtin: 'http', url: `http://127.0.0.1:${mute}/`, timeout: '500ms' });
  assert.deepEqual([http.state, http.summary], ['CRITICAL', 'CRITICAL - Socket timeout after 0.5 seconds']);

  const ac = new AbortController();
  const started = performance.now();
  setTimeout(() => ac.abort(), 200);
  const aborted = await createCheck(checkSchema.parse({ plugin: ['/bin/sleep', '30'], timeout: '20s' })).run(ac.signal);
  assert.deepEqual([aborted.state, aborted.summary], ['UNKNOWN', 'plugin was killed by SIGKILL']);
  assert.ok(performance.now() - started < 5_000);
});
