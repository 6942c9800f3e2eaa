/**
 * Child processes of the benchmark: each started in its own process group (detached), pinned
 * with taskset, its output sent to a log file (never a pipe that could fill up), and stopped by
 * its own PID / process group — never by name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
  /** Set once the process has exited. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  exited: Promise<void>;
}

const live = new Set<Proc>();
/** Set by stopAll: no process is started after it. */
let closing = false;

/**
 * Starts `cmd args` under `taskset -c cpus` (if cpus is given) in a new process group.
 * The PID is the program's own: taskset execs it.
 */
export function startProc(name: string, cmd: string, args: string[], opts: { cpus?: string | undefined; logFile: string; cwd?: string; env?: NodeJS.ProcessEnv }): Proc {
  if (closing) throw new Error(`${name}: not started, the benchmark is stopping`);
  const fd = openSync(opts.logFile, 'a');
  const [file, argv] = opts.cpus !== undefined ? ['taskset', ['-c', opts.cpus, cmd, ...args]] : [cmd, args];
  let child: ChildProcess;
  try {
    child = spawn(file, argv, { detached: true, stdio: ['ignore', fd, fd], cwd: opts.cwd, env: opts.env ?? process.env });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) throw new Error(`${name}: could not start ${file}`);
  let resolveExit!: () => void;
  const p: Proc = { name, child, pid: child.pid, logFile: opts.logFile, exit: undefined, exited: new Promise((r) => (resolveExit = r)) };
  live.add(p);
  child.on('exit', (code, signal) => {
    p.exit = { code, signal };
    resolveExit();
  });
  child.on('error', (err) => {
    p.exit ??= { code: -1, signal: null };
    appendNote(p, `spawn error: ${err.message}`);
    resolveExit();
  });
  return p;
}

function appendNote(p: Proc, text: string): void {
  try {
    appendFileSync(p.logFile, `[bench] ${text}\n`);
  } catch {
    // best effort
  }
}

/** PIDs whose process group is `pgid` (read from /proc/<pid>/stat). */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const ent of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(ent)) continue;
    const st = readStat(Number(ent));
    if (st !== undefined && st.pgrp === pgid) out.push(Number(ent));
  }
  return out;
}

interface Stat { pgrp: number; utime: number; stime: number }

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field N is rest[N - 3].
  return { pgrp: Number(rest[2]), utime: Number(rest[11]), stime: Number(rest[12]) };
}

/** CPU time (user + system, in clock ticks) used so far by the processes of group `pgid`. */
export function groupCpuTicks(pgid: number): number {
  let sum = 0;
  for (const pid of groupMembers(pgid)) {
    const st = readStat(pid);
    if (st) sum += st.utime + st.stime;
  }
  return sum;
}

/** Busy and total jiffies per cpu from /proc/stat. */
export function cpuTimes(): Map<string, { busy: number; total: number }> {
  const out = new Map<string, { busy: number; total: number }>();
  for (const line of readFileSync('/proc/stat', 'latin1').split('\n')) {
    const m = /^(cpu[0-9]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2]!.trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal guest guest_nice; guest is already in user.
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    out.set(m[1]!, { busy: total - idle, total });
  }
  return out;
}

/** Sends `signal` to the process group of p, if it still has members. */
function signalGroup(p: Proc, signal: NodeJS.Signals): void {
  if (groupMembers(p.pid).length === 0) return;
  try {
    process.kill(-p.pid, signal);
  } catch {
    // ESRCH: already gone
  }
}

/** Stops p: SIGTERM to its process group, SIGKILL to what is left after `graceMs`; waits for it. */
export async function stopProc(p: Proc, graceMs = 5_000): Promise<void> {
  const gone = (): boolean => p.exit !== undefined && groupMembers(p.pid).length === 0;
  if (!gone()) {
    signalGroup(p, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (!gone() && Date.now() < deadline) await sleep(50);
    if (!gone()) {
      appendNote(p, `still running ${graceMs} ms after SIGTERM: SIGKILL`);
      signalGroup(p, 'SIGKILL');
      const deadline2 = Date.now() + 2_000;
      while (!gone() && Date.now() < deadline2) await sleep(50);
    }
  }
  live.delete(p);
}

export async function stopAll(): Promise<void> {
  closing = true;
  await Promise.all([...live].map((p) => stopProc(p)));
}

/** Last resort, synchronous (for process 'exit'): SIGKILL every group still alive. */
export function killAllSync(): void {
  for (const p of live) {
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  live.clear();
}

/** Tail of a process's log file. */
export function logTail(p: Proc, lines = 15): string {
  try {
    return readFileSync(p.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Resolves once host:port accepts a TCP connection; throws if p exits first or on timeout. */
export async function waitForPort(port: number, p: Proc | undefined, timeoutMs: number, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (p?.exit !== undefined) {
      const e = p.exit;
      throw new Error(`${p.name} exited (${e.signal ?? `code ${e.code}`}) before listening on ${host}:${port}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port });
      const done = (v: boolean): void => {
        s.destroy();
        resolve(v);
      };
      s.once('connect', () => done(true));
      s.once('error', () => done(false));
      s.setTimeout(1_000, () => done(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${p?.name ?? 'server'} did not listen on ${host}:${port} within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** n distinct free TCP ports on 127.0.0.1 (bound to port 0, read, closed). */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = net.createServer();
      servers.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/** Runs a command to completion, capturing stdout and stderr (for short-lived tools). */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; inherit?: boolean } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['ignore', opts.inherit ? 'inherit' : 'pipe', opts.inherit ? 'inherit' : 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: stderr + err.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Runs a benchmark's `main` and cleans up after it, also on SIGINT / SIGTERM / SIGHUP
 * and on a thrown error: every process it started is stopped, then what it handed to
 * `onCleanup` (removing its temporary directory) runs. The exit code is main's.
 */
let stopping = false;

/** True once `runBenchmark` got a signal: long loops should end early. */
export function benchmarkStopping(): boolean {
  return stopping;
}

export function runBenchmark(main: (onCleanup: (fn: () => void) => void) => Promise<number>, log: (msg: string) => void): void {
  let cleanup: (() => void) | undefined;
  const finish = async () => {
    await stopAll();
    const fn = cleanup;
    cleanup = undefined;
    fn?.();
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      log(`${sig}: stopping every process started by the benchmark`);
      void finish().finally(() => process.exit(130));
    });
  }
  process.on('exit', killAllSync);
  main((fn) => {
    cleanup = fn;
  }).then(
    async (code) => {
      await finish();
      process.exitCode = code;
    },
    async (err: unknown) => {
      if (stopping) return;
      log(`error: ${err instanceof Error ? err.message : String(err)}`);
      await finish();
      process.exitCode = 1;
    },
  );
}
