/**
 * The pure halves of the built-in checks, from tables: what state, summary and
 * perfdata each gives for given readings. (The I/O halves run against the real
 * system and real servers in test/integration/monitor-plugins.test.ts.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkSchema } from '../../config/check-schema.ts';
import type { BuiltinName, BuiltinOptions } from '../../config/check-schema.ts';
import { decideDisk } from './disk.ts';
import { decideFs } from './fs-responsive.ts';
import { decideHttp } from './http.ts';
import type { HttpOutcome } from './http.ts';
import { decideLoad } from './load.ts';
import { decideMemory } from './memory.ts';
import { decideReplica, replicaStatusOf } from './mysql-replica.ts';
import { decideProcs, parseStat } from './procs.ts';
import type { ProcInfo } from './procs.ts';
import { decideSwap } from './swap.ts';
import { decideTcp } from './tcp.ts';
import { decideUsers, encodeUtmp, parseUtmp, USER_PROCESS } from './users.ts';
import { parseMeminfo, worst } from './common.ts';

function opts<N extends BuiltinName>(name: N, o: Record<string, unknown> = {}): BuiltinOptions<N> {
  return checkSchema.parse({ builtin: name, ...o }) as BuiltinOptions<N>;
}

const GiB = 1024 ** 3;

function resp(extra: Partial<Extract<HttpOutcome, { kind: 'response' }>> = {}): HttpOutcome {
  return { kind: 'response', httpVersion: '1.1', status: 200, statusText: 'OK', bytes: 20, seconds: 0.002, body: 'all systems nominal', ...extra };
}

function row(o: Record<string, unknown>) {
  return replicaStatusOf({ Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes', Seconds_Behind_Master: 0, Last_IO_Error: '', Last_SQL_Error: '', Master_Host: '10.0.0.1', Master_Port: 3306, ...o });
}

test('worst of states ranks CRITICAL > WARNING > UNKNOWN > OK', () => {
  assert.equal(worst(), 'OK');
  assert.equal(worst('OK', 'UNKNOWN'), 'UNKNOWN');
  assert.equal(worst('UNKNOWN', 'WARNING'), 'WARNING');
  assert.equal(worst('WARNING', 'CRITICAL', 'OK'), 'CRITICAL');
});

test('load: each average against its own range; per_cpu divides first', () => {
  const table: Array<[Record<string, unknown>, number[], number, string]> = [
    [{}, [0.5, 0.4, 0.3], 2, 'OK'],
    [{}, [5.01, 0.4, 0.3], 2, 'WARNING'],
    [{}, [1, 4.5, 0.3], 2, 'WARNING'],
    [{}, [1, 1, 4.01], 2, 'CRITICAL'],
    [{}, [10.5, 1, 1], 2, 'CRITICAL'],
    [{ per_cpu: true }, [10.5, 1, 1], 4, 'OK'],
    [{ per_cpu: true }, [24, 1, 1], 4, 'WARNING'],
    [{ warning: '@0:1', critical: 100 }, [0.5, 2, 2], 1, 'WARNING'],
  ];
  for (const [o, load, cpus, state] of table) assert.equal(decideLoad(opts('load', o), load, cpus).state, state, `${JSON.stringify(o)} ${load}`);
  const v = decideLoad(opts('load'), [2.39, 1.12, 0.68], 2);
  assert.equal(v.summary, 'LOAD OK - total load average: 2.39, 1.12, 0.68');
  assert.deepEqual(v.perfdata[0], { label: 'load1', value: 2.39, uom: '', warn: '5', crit: '10', min: 0 });
  const s = decideLoad(opts('load', { per_cpu: true }), [2.39, 1.12, 0.68], 2);
  assert.equal(s.summary, 'LOAD OK - scaled load average: 1.20, 0.56, 0.34 - total load average: 2.39, 1.12, 0.68');
  assert.deepEqual(s.perfdata.map((d) => d.label), ['load1', 'scaled_load1', 'load5', 'scaled_load5', 'load15', 'scaled_load15']);
});

test('swap and memory: free below a percentage or a size', () => {
  const table: Array<[Record<string, unknown>, number, number, string]> = [
    [{}, 4 * GiB, 4 * GiB, 'OK'],
    [{}, 4 * GiB, 0.8 * GiB, 'OK'],
    [{}, 4 * GiB, 0.79 * GiB, 'WARNING'],
    [{}, 4 * GiB, 0.39 * GiB, 'CRITICAL'],
    [{ warning: '1g', critical: '512m' }, 4 * GiB, 0.9 * GiB, 'WARNING'],
    [{ warning: '1g', critical: '512m' }, 4 * GiB, 0.4 * GiB, 'CRITICAL'],
    [{}, 0, 0, 'CRITICAL'],
    [{ no_swap: 'OK' }, 0, 0, 'OK'],
  ];
  for (const [o, total, free, state] of table) assert.equal(decideSwap(opts('swap', o), total, free).state, state, `${JSON.stringify(o)} ${total} ${free}`);
  const v = decideSwap(opts('swap'), 2 * GiB, GiB);
  assert.equal(v.summary, 'SWAP OK - 50% free (1024MB out of 2048MB)');
  assert.deepEqual(v.perfdata, [{ label: 'swap', value: GiB, uom: 'B', warn: String(Math.floor(0.4 * GiB)), crit: String(Math.floor(0.2 * GiB)), min: 0, max: 2 * GiB }]);
  assert.equal(decideMemory(opts('memory'), 10 * GiB, 0.9 * GiB).state, 'WARNING');
  assert.equal(decideMemory(opts('memory'), 10 * GiB, 0.4 * GiB).state, 'CRITICAL');
  assert.equal(decideMemory(opts('memory'), 10 * GiB, 5 * GiB).summary, 'MEMORY OK - 50% available (5120MB out of 10240MB)');
  const m = parseMeminfo('MemTotal:       24684092 kB\nMemAvailable:   23000000 kB\nHugePages_Total:       0\nbogus line\n');
  assert.deepEqual([...m], [['MemTotal', 24684092], ['MemAvailable', 23000000], ['HugePages_Total', 0]]);
});

test('procs: /proc/PID/stat parsing and counting by name, state, user, args', () => {
  assert.deepEqual(parseStat('123 (nginx) S 1 123 123 0 -1'), { comm: 'nginx', state: 'S' });
  assert.deepEqual(parseStat('77 (a (weird) name) Z 1 2'), { comm: 'a (weird) name', state: 'Z' });
  assert.equal(parseStat('garbage'), undefined);
  const procs: ProcInfo[] = [
    { pid: 1, comm: 'systemd', state: 'S', uid: 0, args: '/sbin/init' },
    { pid: 10, comm: 'nginx', state: 'S', uid: 0, args: 'nginx: master process /usr/sbin/nginx' },
    { pid: 11, comm: 'nginx', state: 'S', uid: 33, args: 'nginx: worker process' },
    { pid: 12, comm: 'nginx', state: 'Z', uid: 33, args: '' },
    { pid: 20, comm: 'mariadbd', state: 'D', uid: 104, args: '/usr/sbin/mariadbd' },
  ];
  const table: Array<[Record<string, unknown>, number | undefined, number, string, string]> = [
    [{}, undefined, 5, 'OK', 'PROCS OK: 5 processes'],
    [{ state: 'Z', warning: 0 }, undefined, 1, 'WARNING', 'PROCS WARNING: 1 process with STATE = Z'],
    [{ state: 'DZ' }, undefined, 2, 'OK', 'PROCS OK: 2 processes with STATE = DZ'],
    [{ command: 'nginx', critical: '1:' }, undefined, 3, 'OK', "PROCS OK: 3 processes with command name 'nginx'"],
    [{ command: 'httpd', critical: '1:' }, undefined, 0, 'CRITICAL', "PROCS CRITICAL: 0 processes with command name 'httpd'"],
    [{ command: 'nginx', user: 'www-data' }, 33, 2, 'OK', "PROCS OK: 2 processes with UID = 33 (www-data), command name 'nginx'"],
    [{ args: 'worker' }, undefined, 1, 'OK', "PROCS OK: 1 process with args 'worker'"],
    [{ warning: '@4:10', critical: 100 }, undefined, 5, 'WARNING', 'PROCS WARNING: 5 processes'],
  ];
  for (const [o, uid, count, state, summary] of table) {
    const v = decideProcs(opts('procs', o), procs, uid);
    assert.deepEqual([v.perfdata[0]!.value, v.state, v.summary], [count, state, summary], JSON.stringify(o));
  }
  assert.deepEqual(decideProcs(opts('procs', { warning: 5, critical: '2:' }), procs).perfdata, [{ label: 'procs', value: 5, uom: '', warn: '5', crit: '2:', min: 0 }]);
});

test('disk: free percent of used + available, thresholds on used space in perfdata, inodes', () => {
  // 100 GiB file system, 4 KiB blocks: 30 GiB used, 5 GiB reserved for root, 65 GiB available.
  const B = 4096;
  const blocks = (100 * GiB) / B;
  const s = { bsize: B, blocks, bfree: (70 * GiB) / B, bavail: (65 * GiB) / B, files: 1000, ffree: 150 };
  const v = decideDisk(opts('disk', { path: '/srv' }), s);
  assert.equal(v.state, 'OK');
  // 30 / 95 used = 31.6 % → rounded up to 32 → 68 % free, as check_disk prints it.
  assert.equal(v.summary, 'DISK OK - free space: /srv 66560MiB (68% inode=15%);');
  assert.deepEqual(v.perfdata, [{ label: '/srv', value: 30 * GiB, uom: 'B', warn: String(80 * GiB), crit: String(90 * GiB), min: 0, max: 100 * GiB }]);
  const table: Array<[Record<string, unknown>, string]> = [
    [{ warning: '70%', critical: '10%' }, 'WARNING'],
    [{ warning: '80%', critical: '70%' }, 'CRITICAL'],
    [{ warning: '70g', critical: '10g' }, 'WARNING'],
    [{ inode_warning: '20%' }, 'WARNING'],
    [{ inode_warning: '20%', inode_critical: '16%' }, 'CRITICAL'],
    [{ inode_critical: '100' }, 'OK'],
    [{ inode_critical: '200' }, 'CRITICAL'],
  ];
  for (const [o, state] of table) assert.equal(decideDisk(opts('disk', { path: '/srv', ...o }), s).state, state, JSON.stringify(o));
});

test('tcp: connect time against thresholds, refused, timeout, mismatch', () => {
  const o = opts('tcp', { port: 80, warning: '100ms', critical: '1s' });
  const table: Array<[Parameters<typeof decideTcp>[1], string, string]> = [
    [{ kind: 'ok', seconds: 0.0012 }, 'OK', 'TCP OK - 0.001 second response time on 127.0.0.1 port 80'],
    [{ kind: 'ok', seconds: 0.2 }, 'WARNING', 'TCP WARNING - 0.200 second response time on 127.0.0.1 port 80'],
    [{ kind: 'ok', seconds: 1.5 }, 'CRITICAL', 'TCP CRITICAL - 1.500 second response time on 127.0.0.1 port 80'],
    [{ kind: 'error', code: 'ECONNREFUSED', message: 'x' }, 'CRITICAL', 'connect to address 127.0.0.1 and port 80: Connection refused'],
    [{ kind: 'error', code: 'EWHATEVER', message: 'odd failure' }, 'CRITICAL', 'connect to address 127.0.0.1 and port 80: odd failure'],
    [{ kind: 'timeout' }, 'CRITICAL', 'CRITICAL - Socket timeout after 10 seconds'],
    [{ kind: 'mismatch', seconds: 0.01, reply: 'SSH-2.0\r\n' }, 'WARNING', 'TCP WARNING - Unexpected response from host/socket: SSH-2.0'],
  ];
  for (const [outcome, state, summary] of table) {
    const v = decideTcp(o, outcome);
    assert.deepEqual([v.state, v.summary], [state, summary]);
  }
  assert.deepEqual(decideTcp(o, { kind: 'ok', seconds: 0.000576 }).perfdata, [{ label: 'time', value: 0.000576, uom: 's', warn: '0.100000', crit: '1.000000', min: 0, max: 10 }]);
});

test('http: status rule, expected statuses, body, time, certificate days', () => {
  const now = Date.UTC(2026, 10, 22);
  const table: Array<[Record<string, unknown>, HttpOutcome, string, RegExp?]> = [
    [{}, resp(), 'OK', /^HTTP OK: HTTP\/1\.1 200 OK - 20 bytes in 0\.002 second response time$/],
    [{}, resp({ status: 301, statusText: 'Moved' }), 'OK'],
    [{}, resp({ status: 404, statusText: 'Not Found' }), 'WARNING'],
    [{}, resp({ status: 503, statusText: 'Service Unavailable' }), 'CRITICAL'],
    [{ expect: '200-299' }, resp({ status: 301, statusText: 'Moved' }), 'CRITICAL', /expected status 200-299/],
    [{ expect: [404] }, resp({ status: 404, statusText: 'Not Found' }), 'OK'],
    [{ contains: 'nominal' }, resp(), 'OK'],
    [{ contains: 'zzz' }, resp(), 'CRITICAL', /string 'zzz' not found on 'http:\/\/x\/'/],
    [{ matches: '^all .* nominal$' }, resp(), 'OK'],
    [{ matches: 'down' }, resp(), 'CRITICAL', /pattern not found/],
    [{ warning: '1ms', critical: '1s' }, resp(), 'WARNING'],
    [{ critical: '1ms' }, resp(), 'CRITICAL'],
    [{}, resp({ cert: { subject: 'x', validTo: now + 40 * 86_400_000 } }), 'OK'],
    [{}, resp({ cert: { subject: 'x', validTo: now + 20 * 86_400_000 } }), 'WARNING', /certificate 'x' expires in 20 days \(2026-12-12 00:00 \+0000\)/],
    [{}, resp({ cert: { subject: 'x', validTo: now + 3 * 86_400_000 } }), 'CRITICAL', /expires in 3 days/],
    [{}, resp({ cert: { subject: 'x', validTo: now - 86_400_000 } }), 'CRITICAL', /certificate 'x' expired on 2026-11-21/],
    [{}, { kind: 'error', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }, 'CRITICAL', /^HTTP CRITICAL - Unable to open TCP socket$/],
    [{}, { kind: 'error', code: 'ECONNRESET', message: 'socket hang up' }, 'CRITICAL', /^HTTP CRITICAL - socket hang up$/],
    [{}, { kind: 'timeout' }, 'CRITICAL', /^CRITICAL - Socket timeout after 10 seconds$/],
  ];
  for (const [o, outcome, state, re] of table) {
    const v = decideHttp(opts('http', { url: 'http://x/', ...o }), outcome, now);
    assert.equal(v.state, state, `${JSON.stringify(o)}: ${v.summary}`);
    if (re) assert.match(v.summary, re);
  }
  assert.deepEqual(decideHttp(opts('http', { url: 'http://x/' }), resp(), now).perfdata, [
    { label: 'time', value: 0.002, uom: 's', min: 0, max: 10 },
    { label: 'size', value: 20, uom: 'B', min: 0 },
  ]);
});

test('users: utmp records round-trip; count, ranges and allowed names', () => {
  const recs = [
    { type: USER_PROCESS, pid: 1, line: 'pts/0', user: 'alice', host: '192.0.2.1' },
    { type: USER_PROCESS, pid: 2, line: 'pts/1', user: 'bob', host: '' },
    { type: USER_PROCESS, pid: 3, line: 'pts/2', user: 'bob', host: '' },
    { type: 8, pid: 4, line: 'pts/3', user: 'gone', host: '' },
  ];
  const buf = Buffer.concat([...recs.map(encodeUtmp), Buffer.alloc(100)]);
  assert.deepEqual(parseUtmp(buf), recs, 'a trailing partial record is ignored');
  const table: Array<[Record<string, unknown>, string, string]> = [
    [{}, 'OK', 'USERS OK - 3 users currently logged in'],
    [{ warning: 2, critical: 5 }, 'WARNING', 'USERS WARNING - 3 users currently logged in'],
    [{ allowed: ['alice', 'bob'] }, 'OK', 'USERS OK - 3 users currently logged in'],
    [{ allowed: ['alice'] }, 'CRITICAL', 'USERS CRITICAL - 3 users currently logged in, not allowed: bob'],
    [{ allowed: [] }, 'CRITICAL', 'USERS CRITICAL - 3 users currently logged in, not allowed: alice, bob'],
  ];
  for (const [o, state, summary] of table) {
    const v = decideUsers(opts('users', o), parseUtmp(buf));
    assert.deepEqual([v.state, v.summary], [state, summary], JSON.stringify(o));
  }
  assert.deepEqual(decideUsers(opts('users', { warning: 5, critical: 10 }), []).perfdata, [{ label: 'users', value: 0, uom: '', warn: '5', crit: '10', min: 0 }]);
  assert.deepEqual(parseUtmp(Buffer.alloc(0)), []);
});

test('mysql_replica: threads, lag ranges, errors', () => {
  const table: Array<[Record<string, unknown>, Record<string, unknown>, string, string]> = [
    [{}, {}, 'OK', 'REPLICA OK - IO thread: Yes, SQL thread: Yes, 0 seconds behind source'],
    [{}, { Seconds_Behind_Master: 61 }, 'WARNING', 'REPLICA WARNING - IO thread: Yes, SQL thread: Yes, 61 seconds behind source'],
    [{}, { Seconds_Behind_Master: 301 }, 'CRITICAL', 'REPLICA CRITICAL - IO thread: Yes, SQL thread: Yes, 301 seconds behind source'],
    [{ warning: 5, critical: 10 }, { Seconds_Behind_Master: 7 }, 'WARNING', 'REPLICA WARNING - IO thread: Yes, SQL thread: Yes, 7 seconds behind source'],
    [{}, { Slave_SQL_Running: 'No', Seconds_Behind_Master: null, Last_SQL_Error: 'Duplicate entry' }, 'CRITICAL', 'REPLICA CRITICAL - IO thread: Yes, SQL thread: No, lag unknown'],
    [{}, { Slave_IO_Running: 'Connecting', Seconds_Behind_Master: 0 }, 'CRITICAL', 'REPLICA CRITICAL - IO thread: Connecting, SQL thread: Yes, 0 seconds behind source'],
  ];
  for (const [o, r, state, summary] of table) {
    const v = decideReplica(opts('mysql_replica', o), { kind: 'status', status: row(r) });
    assert.deepEqual([v.state, v.summary], [state, summary], JSON.stringify(r));
  }
  const sql = decideReplica(opts('mysql_replica'), { kind: 'status', status: row({ Slave_SQL_Running: 'No', Seconds_Behind_Master: null, Last_SQL_Error: 'Duplicate entry' }) });
  assert.equal(sql.longOutput, 'SQL thread not running: Duplicate entry\nsource: 10.0.0.1:3306');
  assert.deepEqual(sql.perfdata, []);
  // MySQL 8's SHOW REPLICA STATUS names.
  assert.deepEqual(replicaStatusOf({ Replica_IO_Running: 'Yes', Replica_SQL_Running: 'Yes', Seconds_Behind_Source: '3', Source_Host: 'db1', Source_Port: 3306 }).secondsBehind, 3);
  assert.equal(decideReplica(opts('mysql_replica'), { kind: 'not_replica' }).state, 'CRITICAL');
  assert.equal(decideReplica(opts('mysql_replica'), { kind: 'error', message: 'db:3306: Access denied' }).summary, 'REPLICA CRITICAL - db:3306: Access denied');
});

test('fs_responsive: answered, slow, failed, hung', () => {
  const o = opts('fs_responsive', { path: '/srv', warning: '1s' });
  assert.deepEqual(decideFs(o, { state: 'OK', summary: '2', durationMs: 3 }, false).summary, 'FS OK - /srv answered stat in 0.003 seconds');
  assert.equal(decideFs(o, { state: 'OK', summary: '2', durationMs: 1500 }, false).state, 'WARNING');
  assert.equal(decideFs(o, { state: 'CRITICAL', summary: "stat: cannot statx '/srv': Permission denied", durationMs: 3 }, false).summary, "FS CRITICAL - stat /srv failed: stat: cannot statx '/srv': Permission denied");
  assert.equal(decideFs(o, { state: 'UNKNOWN', summary: 'timed out', durationMs: 5000 }, true).summary, 'FS CRITICAL - /srv did not answer stat within 5 seconds (hung mount?)');
});
