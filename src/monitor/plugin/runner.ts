/**
 * Runs a Nagios / Monitoring Plugins plugin: an argument array (never a shell), in
 * its own process group (detached), killed as a group at its timeout (the plugin
 * and whatever it started: `kill(-pgid, SIGKILL)`, like Nagios Core does), output
 * capped, environment controlled. Resolves a CheckResult; never rejects, never
 * blocks the event loop (all I/O through pipes).
 */
import { spawn } from 'node:child_process';
import type { CheckResult } from '../result.ts';
import { pluginResult } from './parse.ts';
import type { PluginExit } from './parse.ts';

/** Output kept from a plugin by default, in bytes (stdout; stderr only when stdout is empty). */
export const DEFAULT_MAX_OUTPUT = 65_536;

/** The environment every plugin gets before `env`: a plain PATH and the C locale (so numbers print with a dot). */
export const BASE_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LC_ALL: 'C',
  LANG: 'C',
};

/** After a kill, how long to wait for the pipes to close before the result is given anyway, in ms. */
export const KILL_GRACE_MS = 1_000;

export interface RunPluginOptions {
  /** The plugin and its arguments. */
  argv: readonly string[];
  /** Time limit in ms; past it the process group is killed and the result is UNKNOWN. */
  timeoutMs: number;
  /** Variables added to BASE_ENV. */
  env?: Readonly<Record<string, string>>;
  /** Bytes of output kept; more is drained and dropped, and noted in the long output. Default 64 KiB. */
  maxOutput?: number;
  /** Aborting kills the process group (result UNKNOWN, "killed by SIGKILL"). */
  signal?: AbortSignal;
  /** Wall clock for `startedAt` (ms since the epoch). Default Date.now. */
  now?: () => number;
}

/** Kills a whole process group; ignores a group that is already gone. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group has no process left.
  }
}

export function runPlugin(opts: RunPluginOptions): Promise<CheckResult> {
  const now = opts.now ?? Date.now;
  const startedAt = now();
  const t0 = performance.now();
  const max = opts.maxOutput ?? DEFAULT_MAX_OUTPUT;
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let kept = 0;
    let dropped = 0;
    let timedOut = false;
    let settled = false;
    let exit: { code: number | null; signal: string | null } | undefined;
    let spawnError: string | undefined;

    const child = spawn(opts.argv[0]!, opts.argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...BASE_ENV, ...opts.env },
    });

    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      const room = max - kept;
      if (room <= 0) {
        dropped += chunk.length;
        return;
      }
      if (chunk.length > room) {
        into.push(chunk.subarray(0, room));
        dropped += chunk.length - room;
        kept = max;
      } else {
        into.push(chunk);
        kept += chunk.length;
      }
    };
    child.stdout!.on('data', collect(out));
    child.stderr!.on('data', collect(err));

    let grace: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
      // A process in uninterruptible sleep (a stat on a hung NFS mount) dies only when
      // its I/O returns, and holds the pipes open until then: do not wait for it.
      grace = setTimeout(finish, KILL_GRACE_MS);
    }, opts.timeoutMs);
    const onAbort = () => killGroup(child.pid);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) onAbort();

    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(grace);
      opts.signal?.removeEventListener('abort', onAbort);
      const stdout = Buffer.concat(out).toString('utf8');
      const text = stdout.trim() !== '' ? stdout : Buffer.concat(err).toString('utf8');
      const pe: PluginExit = spawnError !== undefined
        ? { code: null, spawnError }
        : { code: exit?.code ?? null, signal: exit?.signal ?? null, timedOut, timeoutMs: opts.timeoutMs, truncatedBytes: dropped };
      resolve(pluginResult(text, pe, startedAt, performance.now() - t0));
    };

    child.on('error', (e: NodeJS.ErrnoException) => {
      // Spawn failures (ENOENT, EACCES) come here without an 'exit'.
      spawnError = `${opts.argv[0]}: ${e.code ?? e.message}`;
      if (child.pid === undefined) finish();
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      // Children the plugin left behind would keep the pipes open: end the group now.
      killGroup(child.pid);
    });
    child.on('close', finish);
  });
}
