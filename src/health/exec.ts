/**
 * `exec` check (keepalived MISC_CHECK, HAProxy `external-check`): runs a program with
 * an argument array, never through a shell. Exit 0 = up. With `dynamic`, the exit
 * code also sets the weight (keepalived `misc_dynamic`): 0 up (configured weight),
 * 1 down, 2-255 up with weight = code − 2.
 *
 * The program runs in its own process group, so that a timeout kills it and
 * everything it started. Its environment holds only PATH and PALISADE_* variables:
 * the daemon's own environment may carry secrets used by the cluster file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { ExecHealthConfig } from '../config/health-schema.ts';
import type { Check, CheckResult, CheckTarget } from './types.ts';

/** Output kept for the result's detail, in bytes. */
const MAX_OUTPUT = 512;
/** After the program exits, how long to wait for its output pipes to close, ms. */
const CLOSE_GRACE_MS = 200;

export function execEnvironment(target: CheckTarget): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    PALISADE_BACKEND: target.id,
    PALISADE_BACKEND_HOST: target.backendHost,
    PALISADE_BACKEND_PORT: String(target.backendPort),
    PALISADE_CHECK_HOST: target.host,
    PALISADE_CHECK_PORT: String(target.port),
  };
}

export function createExecCheck(cfg: Pick<ExecHealthConfig, 'command' | 'dynamic'>): Check {
  const [program, ...args] = cfg.command;
  if (program === undefined) throw new Error('exec check without a command');

  return {
    name: 'exec',
    run(target: CheckTarget, signal: AbortSignal): Promise<CheckResult> {
      return new Promise((resolve) => {
        const started = performance.now();
        let settled = false;
        let timedOut = false;
        let output = '';
        let child: ChildProcess;
        let graceTimer: NodeJS.Timeout | undefined;
        let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

        const finish = (r: Omit<CheckResult, 'durationMs'>) => {
          if (settled) return;
          settled = true;
          signal.removeEventListener('abort', onAbort);
          if (graceTimer) clearTimeout(graceTimer);
          child?.stdout?.destroy();
          child?.stderr?.destroy();
          resolve({ ...r, durationMs: Math.round((performance.now() - started) * 10) / 10 });
        };
        const killGroup = () => {
          if (child?.pid === undefined) return;
          try {
            // detached: the child leads its own process group; kill all of it.
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        };
        const fromExit = (): Omit<CheckResult, 'durationMs'> => {
          const line = output.split('\n').find((l) => l.trim() !== '')?.trim();
          if (timedOut) return { ok: false, status: 'EXEC_TIMEOUT', detail: 'killed after the timeout' };
          if (!exit || exit.code === null) return { ok: false, status: 'EXEC_EXIT', detail: `killed by ${exit?.signal ?? 'a signal'}` };
          const code = exit.code;
          const withLine = <T extends object>(r: T) => (line ? { ...r, detail: line } : r);
          if (!cfg.dynamic) return code === 0 ? withLine({ ok: true, status: 'EXEC_OK' as const, code }) : withLine({ ok: false, status: 'EXEC_EXIT' as const, code });
          if (code === 0) return withLine({ ok: true, status: 'EXEC_OK' as const, code, weight: null });
          if (code === 1) return withLine({ ok: false, status: 'EXEC_EXIT' as const, code });
          return withLine({ ok: true, status: 'EXEC_OK' as const, code, weight: { absolute: code - 2 } });
        };
        const onAbort = () => {
          if (exit) {
            finish(fromExit());
            return;
          }
          timedOut = true;
          killGroup();
        };

        try {
          child = spawn(program, args, {
            detached: true,
            stdio: ['ignore', 'pipe', 'pipe'],
            env: execEnvironment(target),
            windowsHide: true,
          });
        } catch (err) {
          finish({ ok: false, status: 'EXEC_ERROR', detail: err instanceof Error ? err.message : String(err) });
          return;
        }
        const collect = (chunk: Buffer) => {
          if (output.length < MAX_OUTPUT) output += chunk.toString('utf8', 0, Math.min(chunk.length, MAX_OUTPUT - output.length));
        };
        child.stdout?.on('data', collect);
        child.stderr?.on('data', collect);
        child.on('error', (err) => {
          // spawn failed (ENOENT, EACCES): no exit will follow.
          if (child.pid === undefined) finish({ ok: false, status: 'EXEC_ERROR', detail: err.message });
        });
        child.on('exit', (code, sig) => {
          exit = { code, signal: sig };
          // Wait briefly for the rest of the output; a grandchild may hold the pipes open.
          graceTimer = setTimeout(() => finish(fromExit()), CLOSE_GRACE_MS);
          graceTimer.unref();
        });
        child.on('close', () => {
          if (exit) finish(fromExit());
        });
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}
