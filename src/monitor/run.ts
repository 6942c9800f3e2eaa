/**
 * One entry point for running a check from the cluster file: a plugin through the
 * runner, or a built-in check. `createCheck(config)` once (at load / reload), then
 * `run()` at each check time. A run never rejects and never outlives its timeout
 * (plus a second's grace for a plugin stuck in the kernel): a check that throws or
 * overruns is UNKNOWN (CRITICAL for tcp / http / fs_responsive / mysql_replica, whose
 * own timeout is a finding about the target) with the reason.
 */
import type { BuiltinCheckConfig, CheckConfig } from '../config/check-schema.ts';
import { errorText, toResult } from './builtin/common.ts';
import type { CheckContext } from './builtin/common.ts';
import { runDisk } from './builtin/disk.ts';
import { runFsResponsive } from './builtin/fs-responsive.ts';
import { runHttp } from './builtin/http.ts';
import { runLoad } from './builtin/load.ts';
import { runMemory } from './builtin/memory.ts';
import { runMysqlReplica } from './builtin/mysql-replica.ts';
import { runBackends, runVrrp, type PalisadeStatusProvider } from './builtin/palisade.ts';
import { runProcs } from './builtin/procs.ts';
import { runSwap } from './builtin/swap.ts';
import { runTcp } from './builtin/tcp.ts';
import { runUsers } from './builtin/users.ts';
import { runPlugin } from './plugin/runner.ts';
import type { CheckResult } from './result.ts';

export interface MonitorCheck {
  /** `plugin` or the built-in's name. */
  readonly kind: string;
  /** Runs the check once. `signal` stops it early (the result is then UNKNOWN or CRITICAL). */
  run(signal?: AbortSignal): Promise<CheckResult>;
}

export interface CheckDeps {
  /** Wall clock, ms since the epoch, for `startedAt`. Default Date.now. */
  now?: () => number;
  /** Palisade's own state for the `vrrp` and `backends` checks (the application injects it). */
  palisade?: PalisadeStatusProvider;
}

const NEVER = new AbortController().signal;

function builtinRunner(c: BuiltinCheckConfig, deps: CheckDeps): (ctx: CheckContext) => Promise<CheckResult> {
  switch (c.builtin) {
    case 'load': return (ctx) => runLoad(c, ctx);
    case 'swap': return (ctx) => runSwap(c, ctx);
    case 'memory': return (ctx) => runMemory(c, ctx);
    case 'procs': return (ctx) => runProcs(c, ctx);
    case 'disk': return (ctx) => runDisk(c, ctx);
    case 'tcp': return (ctx) => runTcp(c, ctx);
    case 'http': return (ctx) => runHttp(c, ctx);
    case 'users': return (ctx) => runUsers(c, ctx);
    case 'mysql_replica': return (ctx) => runMysqlReplica(c, ctx);
    case 'fs_responsive': return (ctx) => runFsResponsive(c, ctx);
    case 'vrrp': return (ctx) => runVrrp(c, ctx, deps.palisade);
    case 'backends': return (ctx) => runBackends(c, ctx, deps.palisade);
  }
}

/** Checks that enforce their own timeout (and answer CRITICAL at it); no extra timer needed. */
const SELF_TIMED = new Set(['tcp', 'http', 'fs_responsive', 'mysql_replica']);

export function createCheck(config: CheckConfig, deps: CheckDeps = {}): MonitorCheck {
  const now = deps.now ?? Date.now;
  if ('plugin' in config) {
    const { plugin, timeout, env, max_output } = config;
    return {
      kind: 'plugin',
      run: (signal) => runPlugin({ argv: plugin, timeoutMs: timeout, env, maxOutput: max_output, now, ...(signal && { signal }) }),
    };
  }
  const name = config.builtin;
  const runner = builtinRunner(config, deps);
  if (SELF_TIMED.has(name)) {
    return { kind: name, run: (signal) => guard(name, runner, { now, signal: signal ?? NEVER }, now) };
  }
  return {
    kind: name,
    run: (signal) => {
      // Checks that read files or ask a server: abort them at the timeout, and answer
      // UNKNOWN then even if the I/O does not notice the abort.
      const ac = new AbortController();
      const onAbort = () => ac.abort(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      const startedAt = now();
      const t0 = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<CheckResult>((resolve) => {
        timer = setTimeout(() => {
          ac.abort(new Error('timeout'));
          resolve(toResult({ state: 'UNKNOWN', summary: `${name} check timed out after ${config.timeout / 1000} seconds`, perfdata: [] }, startedAt, t0));
        }, config.timeout);
      });
      return Promise.race([guard(name, runner, { now, signal: ac.signal }, now), late]).finally(() => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      });
    },
  };
}

async function guard(name: string, runner: (ctx: CheckContext) => Promise<CheckResult>, ctx: CheckContext, now: () => number): Promise<CheckResult> {
  const startedAt = now();
  const t0 = performance.now();
  try {
    return await runner(ctx);
  } catch (e) {
    return toResult({ state: 'UNKNOWN', summary: `${name} check failed: ${errorText(e)}`, perfdata: [] }, startedAt, t0);
  }
}
