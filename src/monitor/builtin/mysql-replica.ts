/**
 * `mysql_replica`: is a MariaDB / MySQL replica replicating, and how far behind?
 * `SHOW SLAVE STATUS` over the `mariadb` npm client (no CLI, no shell): both the IO
 * and the SQL thread must be running (CRITICAL otherwise, with the last error), and
 * `Seconds_Behind_Master` is held against warning / critical ranges (seconds).
 * Like check_mysql -S: a server that cannot be reached is CRITICAL.
 *
 * Output: `REPLICA OK - IO thread: Yes, SQL thread: Yes, 0 seconds behind source`,
 * perfdata `seconds_behind_source=0s;60;300;0;`.
 */
import { readFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { createConnection } from 'mariadb';
import type { BuiltinOptions } from '../../config/check-schema.ts';
import { parseNagiosRange, thresholdState } from '../../core/nagios-range.ts';
import type { NagiosRange } from '../../core/nagios-range.ts';
import type { CheckState, PerfDatum } from '../result.ts';
import { errorText, toResult } from './common.ts';
import type { CheckContext, Verdict } from './common.ts';

type ReplicaOptions = BuiltinOptions<'mysql_replica'>;

/** The columns of SHOW SLAVE STATUS this check reads. */
export interface ReplicaStatus {
  ioRunning: string;
  sqlRunning: string;
  /** null while the SQL thread is stopped (the server cannot tell). */
  secondsBehind: number | null;
  lastIoError: string;
  lastSqlError: string;
  source: string;
}

export type ReplicaOutcome = { kind: 'status'; status: ReplicaStatus } | { kind: 'not_replica' } | { kind: 'error'; message: string };

/** Pure: the verdict for what the server said. */
export function decideReplica(opts: ReplicaOptions, o: ReplicaOutcome): Verdict {
  if (o.kind === 'error') return { state: 'CRITICAL', summary: `REPLICA CRITICAL - ${o.message}`, perfdata: [] };
  if (o.kind === 'not_replica') {
    return { state: 'CRITICAL', summary: `REPLICA CRITICAL - not a replica (SHOW SLAVE STATUS${opts.connection ? ` for connection '${opts.connection}'` : ''} is empty)`, perfdata: [] };
  }
  const s = o.status;
  const threads = `IO thread: ${s.ioRunning}, SQL thread: ${s.sqlRunning}`;
  const problems: string[] = [];
  if (s.ioRunning !== 'Yes') problems.push(`IO thread not running${s.lastIoError ? `: ${s.lastIoError}` : ''}`);
  if (s.sqlRunning !== 'Yes') problems.push(`SQL thread not running${s.lastSqlError ? `: ${s.lastSqlError}` : ''}`);
  const perf: PerfDatum[] = [];
  let state: CheckState;
  let lag: string;
  if (s.secondsBehind === null) {
    lag = 'lag unknown';
    state = 'CRITICAL';
  } else {
    lag = `${s.secondsBehind} seconds behind source`;
    state = thresholdState(s.secondsBehind, parseNagiosRange(opts.warning) as NagiosRange, parseNagiosRange(opts.critical) as NagiosRange);
    perf.push({ label: 'seconds_behind_source', value: s.secondsBehind, uom: 's', warn: opts.warning, crit: opts.critical, min: 0 });
  }
  if (problems.length > 0) state = 'CRITICAL';
  return {
    state,
    summary: `REPLICA ${state} - ${threads}, ${lag}`,
    longOutput: [...problems, s.source ? `source: ${s.source}` : ''].filter((l) => l !== '').join('\n'),
    perfdata: perf,
  };
}

function str(v: unknown): string {
  return v === null || v === undefined ? '' : String(v);
}

/** Pure: one row of SHOW SLAVE STATUS (MariaDB and MySQL column names; SHOW REPLICA STATUS names too). */
export function replicaStatusOf(row: Record<string, unknown>): ReplicaStatus {
  const sb = row.Seconds_Behind_Master ?? row.Seconds_Behind_Source;
  return {
    ioRunning: str(row.Slave_IO_Running ?? row.Replica_IO_Running),
    sqlRunning: str(row.Slave_SQL_Running ?? row.Replica_SQL_Running),
    secondsBehind: sb === null || sb === undefined || sb === '' ? null : Number(sb),
    lastIoError: str(row.Last_IO_Error),
    lastSqlError: str(row.Last_SQL_Error),
    source: `${str(row.Master_Host ?? row.Source_Host)}:${str(row.Master_Port ?? row.Source_Port)}`.replace(/^:$/, ''),
  };
}

/** The I/O: connect, ask, close; never rejects. */
export async function probeReplica(opts: ReplicaOptions, signal?: AbortSignal): Promise<ReplicaOutcome> {
  let password = opts.password;
  try {
    if (opts.password_file !== undefined) password = (await readFile(opts.password_file, { encoding: 'utf8', signal })).split('\n')[0];
  } catch (e) {
    return { kind: 'error', message: `cannot read password_file ${opts.password_file}: ${errorText(e)}` };
  }
  const where = opts.socket ?? `${opts.host}:${opts.port}`;
  let conn: Awaited<ReturnType<typeof createConnection>> | undefined;
  // Our own socket, so that a timeout or an abort can always close it: the client's
  // connectTimeout does not end a socket stuck before the server's greeting.
  const socket = opts.socket !== undefined ? netConnect(opts.socket) : netConnect({ host: opts.host, port: opts.port, noDelay: true });
  socket.on('error', () => {});
  let timedOut = false;
  const kill = () => {
    timedOut = true;
    socket.destroy();
  };
  const timer = setTimeout(kill, opts.timeout);
  signal?.addEventListener('abort', kill, { once: true });
  try {
    conn = await createConnection({
      stream: (cb) => cb(undefined, socket),
      user: opts.user,
      ...(password !== undefined && { password }),
      connectTimeout: opts.timeout,
      socketTimeout: opts.timeout,
    });
    if (signal?.aborted) throw new Error('aborted');
    // MariaDB names a multi-source connection in the statement; '' is the default one.
    const sql = opts.connection === '' ? 'SHOW SLAVE STATUS' : 'SHOW SLAVE ? STATUS';
    const rows = (await conn.query({ sql, timeout: opts.timeout }, opts.connection === '' ? [] : [opts.connection])) as Record<string, unknown>[];
    const row = rows[0];
    return row === undefined ? { kind: 'not_replica' } : { kind: 'status', status: replicaStatusOf(row) };
  } catch (e) {
    if (timedOut) return { kind: 'error', message: `${where}: no answer within ${opts.timeout / 1000} seconds` };
    return { kind: 'error', message: `${where}: ${errorText(e).split('\n')[0]}` };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', kill);
    conn?.destroy();
    socket.destroy();
  }
}

export async function runMysqlReplica(opts: ReplicaOptions, ctx: CheckContext) {
  const startedAt = ctx.now();
  const t0 = performance.now();
  return toResult(decideReplica(opts, await probeReplica(opts, ctx.signal)), startedAt, t0);
}
