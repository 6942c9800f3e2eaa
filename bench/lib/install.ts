/**
 * Finds nginx, haproxy, wrk and taskset; installs the missing ones from Debian's packages
 * (`apt-get update` once, then `apt-get install -y`), without letting the packages start their
 * system services: a policy-rc.d that refuses every start is put in place for the install if
 * the machine has none, and a service that got started all the same is stopped by its PID file.
 */
import { accessSync, constants, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run } from './procs.ts';

export interface Tools {
  nginx: string;
  haproxy: string;
  wrk: string;
  taskset: string;
}

const SEARCH = [...(process.env.PATH ?? '').split(':').filter((d) => d !== ''), '/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin'];

export function which(name: string): string | undefined {
  for (const dir of SEARCH) {
    const f = path.join(dir, name);
    try {
      accessSync(f, constants.X_OK);
      return f;
    } catch {
      // next
    }
  }
  return undefined;
}

const PACKAGE_OF: Record<keyof Tools, string> = { nginx: 'nginx-light', haproxy: 'haproxy', wrk: 'wrk', taskset: 'util-linux' };
const POLICY_RC = '/usr/sbin/policy-rc.d';
const SERVICE_PIDFILES = ['/run/nginx.pid', '/run/haproxy.pid'];

function pidFromFile(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const found = (): Partial<Tools> => ({ nginx: which('nginx'), haproxy: which('haproxy'), wrk: which('wrk'), taskset: which('taskset') });
const first = (s: string): string => s.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '?';

export async function ensureTools(install: boolean, log: (s: string) => void): Promise<Tools> {
  let have = found();
  const missing = (Object.keys(PACKAGE_OF) as (keyof Tools)[]).filter((k) => have[k] === undefined);
  if (missing.length > 0) {
    if (!install) throw new Error(`missing ${missing.join(', ')} and --no-install was given`);
    if (process.getuid?.() !== 0) throw new Error(`missing ${missing.join(', ')}; installing needs root (apt-get)`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    log(`installing ${missing.join(', ')}: apt-get update`);
    const upd = await run('apt-get', ['update', '-qq', '-o', 'DPkg::Lock::Timeout=300'], { env, timeoutMs: 600_000 });
    if (upd.code !== 0) throw new Error(`apt-get update failed (${upd.code}):\n${upd.stderr.slice(-2000)}`);
    const pkgs = missing.map((k) => PACKAGE_OF[k]);
    if (pkgs.includes('nginx-light')) {
      // nginx-light is a smaller build; fall back to the plain package where it is gone.
      const show = await run('apt-cache', ['show', 'nginx-light'], { env });
      if (show.code !== 0 || show.stdout.trim() === '') pkgs[pkgs.indexOf('nginx-light')] = 'nginx';
    }
    const servicesBefore = new Set(SERVICE_PIDFILES.filter((f) => { const pid = pidFromFile(f); return pid !== undefined && alive(pid); }));
    const ownPolicy = !existsSync(POLICY_RC);
    if (ownPolicy) writeFileSync(POLICY_RC, '#!/bin/sh\n# put here by palisade bench/http.ts for the time of its apt-get install\nexit 101\n', { mode: 0o755 });
    try {
      log(`apt-get install -y ${pkgs.join(' ')}`);
      const inst = await run('apt-get', ['install', '-y', '-q', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300', ...pkgs], { env, timeoutMs: 900_000 });
      if (inst.code !== 0) throw new Error(`apt-get install ${pkgs.join(' ')} failed (${inst.code}):\n${(inst.stdout + inst.stderr).slice(-3000)}`);
    } finally {
      if (ownPolicy) rmSync(POLICY_RC, { force: true });
    }
    // A service the packages started despite the policy: stop it by its PID file.
    for (const f of SERVICE_PIDFILES) {
      const pid = pidFromFile(f);
      if (pid !== undefined && !servicesBefore.has(f) && alive(pid)) {
        log(`the package started a system service (${f}, pid ${pid}): stopping it`);
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // gone
        }
      }
    }
    have = found();
  }
  const still = (Object.keys(PACKAGE_OF) as (keyof Tools)[]).filter((k) => have[k] === undefined);
  if (still.length > 0) throw new Error(`still missing after install: ${still.join(', ')}`);
  return have as Tools;
}

/** Versions of the tools, the node that runs Palisade, and the CPU model. */
export async function versions(tools: Tools, nodeBin: string): Promise<Record<string, string>> {
  const [ng, hp, wk, nd] = await Promise.all([
    run(tools.nginx, ['-v']),
    run(tools.haproxy, ['-v']),
    run(tools.wrk, ['-v']),
    run(nodeBin, ['--version']),
  ]);
  let cpu = '?';
  try {
    cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? '?';
  } catch {
    // not Linux?
  }
  let kernel = '?';
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    // ignore
  }
  return {
    nginx: first(ng.stderr + ng.stdout).replace(/^nginx version:\s*/, ''),
    haproxy: first(hp.stdout + hp.stderr),
    wrk: first(wk.stdout + wk.stderr).replace(/\s*Copyright.*$/, ''),
    node: first(nd.stdout),
    cpu,
    kernel,
  };
}
