/**
 * The `mysql_replica` check against a real MariaDB source/replica pair from Debian's
 * mariadb-server: two mariadbd instances on 127.0.0.1 ports, own data directories in
 * a temp dir, started here as root with --user=mysql and stopped by PID at the end
 * (even on failure).
 *
 * Lag is made deterministic with MASTER_DELAY plus an old event timestamp: the source
 * writes with `SET timestamp = now - 120`, the replica holds that event for an hour
 * (MASTER_DELAY=3600), and Seconds_Behind_Master reads ~120 s while it waits.
 */
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { access, chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { createConnection } from 'mariadb';
import type { Connection } from 'mariadb';
import { checkSchema } from '../../src/config/check-schema.ts';
import { createCheck } from '../../src/monitor/run.ts';
import type { CheckResult } from '../../src/monitor/result.ts';

const run = promisify(execFile);
const MARIADBD = '/usr/sbin/mariadbd';
const INSTALL_DB = '/usr/bin/mariadb-install-db';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

interface Instance {
  port: number;
  child: ChildProcess;
  exited: Promise<void>;
}

let dir = '';
const instances: Instance[] = [];
let source: Connection | undefined;
let replica: Connection | undefined;
let sourcePort = 0;
let replicaPort = 0;
let skip: string | false = false;

async function startInstance(name: string, serverId: number): Promise<Instance> {
  const data = join(dir, name);
  await run(INSTALL_DB, ['--no-defaults', `--datadir=${data}`, '--user=mysql', '--auth-root-authentication-method=normal', '--skip-test-db']);
  const port = await freePort();
  const child = spawn(
    MARIADBD,
    [
      '--no-defaults', `--datadir=${data}`, '--user=mysql', `--port=${port}`, '--bind-address=127.0.0.1',
      `--socket=${join(dir, `${name}.sock`)}`, `--pid-file=${join(dir, `${name}.pid`)}`, `--log-error=${join(dir, `${name}.err`)}`,
      `--server-id=${serverId}`, '--log-bin=mysql-bin', '--skip-name-resolve', '--innodb-buffer-pool-size=16M',
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const inst = { port, child, exited };
  instances.push(inst);
  // Ready when it accepts a root login over TCP.
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const c = await createConnection({ host: '127.0.0.1', port, user: 'root', connectTimeout: 1000 });
      await c.end();
      return inst;
    } catch (e) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`mariadbd ${name} did not start (see ${join(dir, `${name}.err`)}): ${String(e)}`, { cause: e });
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function replicaStatus(): Promise<Record<string, unknown>> {
  const rows = (await replica!.query('SHOW SLAVE STATUS')) as Record<string, unknown>[];
  return rows[0] ?? {};
}

async function waitFor(what: string, cond: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(await replicaStatus())}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function check(opts: Record<string, unknown> = {}): Promise<CheckResult> {
  const config = checkSchema.parse({ builtin: 'mysql_replica', host: '127.0.0.1', port: replicaPort, user: 'monitor', password: 'mon-pw', timeout: '5s', ...opts });
  return createCheck(config).run();
}

before(async () => {
  try {
    await access(MARIADBD);
    await access(INSTALL_DB);
  } catch {
    skip = 'mariadb-server is not installed (scripts/setup-test-host.sh installs it)';
    return;
  }
  if (process.getuid?.() !== 0) {
    skip = 'needs root to start mariadbd as the mysql user';
    return;
  }
  dir = await mkdtemp(join(tmpdir(), 'palisade-mariadb-'));
  await chown(dir, Number((await run('id', ['-u', 'mysql'])).stdout), Number((await run('id', ['-g', 'mysql'])).stdout));
  const [s, r] = await Promise.all([startInstance('source', 1), startInstance('replica', 2)]);
  sourcePort = s.port;
  replicaPort = r.port;
  source = await createConnection({ host: '127.0.0.1', port: sourcePort, user: 'root' });
  replica = await createConnection({ host: '127.0.0.1', port: replicaPort, user: 'root' });
  await source.query("CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'repl-pw'");
  await source.query("GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'");
  await source.query('CREATE DATABASE app');
  await source.query('CREATE TABLE app.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))');
  // The least a monitoring user needs on MariaDB 10.5.9+: SLAVE MONITOR.
  await replica.query("CREATE USER 'monitor'@'127.0.0.1' IDENTIFIED BY 'mon-pw'");
  await replica.query("GRANT SLAVE MONITOR ON *.* TO 'monitor'@'127.0.0.1'");
  await replica.query(`CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${sourcePort}, MASTER_USER='repl', MASTER_PASSWORD='repl-pw', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1`);
  await replica.query('START SLAVE');
  await waitFor('replication to run', async () => {
    const st = await replicaStatus();
    return st.Slave_IO_Running === 'Yes' && st.Slave_SQL_Running === 'Yes';
  });
});

after(async () => {
  await source?.end().catch(() => {});
  await replica?.end().catch(() => {});
  for (const i of instances) {
    // Stop by PID: SIGTERM is mariadbd's clean shutdown; SIGKILL if it hangs.
    if (i.child.exitCode === null && i.child.pid !== undefined) {
      i.child.kill('SIGTERM');
      const timer = setTimeout(() => i.child.kill('SIGKILL'), 20_000);
      await i.exited;
      clearTimeout(timer);
    }
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('OK while replicating: both threads running, 0 seconds behind', { timeout: 60_000 }, async (t) => {
  if (skip) return t.skip(skip);
  await source!.query("INSERT INTO app.t (v) VALUES ('one')");
  await waitFor('the row on the replica', async () => ((await replica!.query('SELECT COUNT(*) AS n FROM app.t')) as { n: bigint }[])[0]!.n === 1n);
  const r = await check();
  assert.equal(r.state, 'OK', r.summary);
  assert.equal(r.summary, 'REPLICA OK - IO thread: Yes, SQL thread: Yes, 0 seconds behind source');
  assert.deepEqual(r.perfdata, [{ label: 'seconds_behind_source', value: 0, uom: 's', warn: '60', crit: '300', min: 0 }]);
  assert.match(r.longOutput, new RegExp(`source: 127\\.0\\.0\\.1:${sourcePort}`));
});

test('CRITICAL when the SQL thread is stopped; OK again when it starts', { timeout: 60_000 }, async (t) => {
  if (skip) return t.skip(skip);
  await replica!.query('STOP SLAVE SQL_THREAD');
  await waitFor('the SQL thread to stop', async () => (await replicaStatus()).Slave_SQL_Running === 'No');
  const r = await check();
  assert.equal(r.state, 'CRITICAL');
  assert.equal(r.summary, 'REPLICA CRITICAL - IO thread: Yes, SQL thread: No, lag unknown');
  assert.match(r.longOutput, /SQL thread not running/);
  await replica!.query('START SLAVE SQL_THREAD');
  await waitFor('the SQL thread to run', async () => (await replicaStatus()).Slave_SQL_Running === 'Yes');
  assert.equal((await check()).state, 'OK');
});

test('CRITICAL when the IO thread is stopped', { timeout: 60_000 }, async (t) => {
  if (skip) return t.skip(skip);
  await replica!.query('STOP SLAVE IO_THREAD');
  await waitFor('the IO thread to stop', async () => (await replicaStatus()).Slave_IO_Running === 'No');
  const r = await check();
  assert.equal(r.state, 'CRITICAL');
  assert.match(r.summary, /^REPLICA CRITICAL - IO thread: No, SQL thread: Yes/);
  await replica!.query('START SLAVE IO_THREAD');
  await waitFor('the IO thread to run', async () => (await replicaStatus()).Slave_IO_Running === 'Yes');
});

test('WARNING and CRITICAL on lag thresholds (an event 120 s old held by MASTER_DELAY)', { timeout: 90_000 }, async (t) => {
  if (skip) return t.skip(skip);
  await replica!.query('STOP SLAVE');
  await replica!.query('CHANGE MASTER TO MASTER_DELAY=3600');
  await replica!.query('START SLAVE');
  await waitFor('replication to run', async () => {
    const st = await replicaStatus();
    return st.Slave_IO_Running === 'Yes' && st.Slave_SQL_Running === 'Yes';
  });
  // The event carries a timestamp 120 s in the past.
  await source!.query('SET timestamp = UNIX_TIMESTAMP() - 120');
  await source!.query("INSERT INTO app.t (v) VALUES ('late')");
  await source!.query('SET timestamp = DEFAULT');
  await waitFor('the replica to lag', async () => Number((await replicaStatus()).Seconds_Behind_Master ?? 0) >= 100);

  const warn = await check({ warning: 60, critical: 300 });
  assert.equal(warn.state, 'WARNING', warn.summary);
  assert.match(warn.summary, /^REPLICA WARNING - IO thread: Yes, SQL thread: Yes, 1[2-9]\d seconds behind source$/);
  const lag = warn.perfdata[0]!;
  assert.equal(lag.label, 'seconds_behind_source');
  assert.ok(lag.value >= 120 && lag.value < 200, `lag ${lag.value}`);

  const crit = await check({ warning: 30, critical: 100 });
  assert.equal(crit.state, 'CRITICAL', crit.summary);
  const ok = await check({ warning: 600, critical: 900 });
  assert.equal(ok.state, 'OK', ok.summary);
  // Ranges as the guidelines define them: @100:200 alerts inside.
  assert.equal((await check({ warning: '@100:200', critical: '@500:600' })).state, 'WARNING');

  await replica!.query('STOP SLAVE');
  await replica!.query('CHANGE MASTER TO MASTER_DELAY=0');
  await replica!.query('START SLAVE');
});

test('a wrong password or a closed port is CRITICAL with the reason, fast', { timeout: 60_000 }, async (t) => {
  if (skip) return t.skip(skip);
  const bad = await check({ password: 'wrong' });
  assert.equal(bad.state, 'CRITICAL');
  assert.match(bad.summary, /Access denied for user 'monitor'/);
  const closed = await check({ port: await freePort() });
  assert.equal(closed.state, 'CRITICAL');
  assert.match(closed.summary, /ECONNREFUSED/);
  // The source is not a replica.
  const notReplica = await check({ port: sourcePort, user: 'root', password: '' });
  assert.equal(notReplica.state, 'CRITICAL');
  assert.match(notReplica.summary, /not a replica/);
});
