/**
 * A private network lab for system tests: one bridge and N hosts, each host a
 * network namespace with `eth0` on the bridge and an address in 10.99.<net>.0/24.
 *
 *   const lab = await createLab(t, { hosts: ['d1', 'd2', 'client'] });
 *   await lab.exec('d1', ['ip', 'addr']);
 *   const p = lab.spawn('d2', ['keepalived', '-n', ...]);
 *   const n = lab.node('d1', `console.log(JSON.stringify({ hello: 1 }))`);
 *   await n.waitForJson((m) => m.hello === 1);
 *
 * Everything lives in namespaces named `pal-<id>-…` (the bridge in its own
 * `pal-<id>-sw`), so the root namespace gets no interface at all and deleting the
 * namespaces removes every link. `<id>` is random per lab: parallel runs do not
 * collide. The lab removes what it made (processes it started, by PID, then its
 * namespaces) on `cleanup()`, on `t.after`, and on process exit, SIGINT or SIGTERM;
 * `cleanup()` is safe to call twice. Leftovers of earlier runs (namespaces named
 * `pal-<hex id>-…` whose owner process is gone, per the marker file in
 * /run/palisade-lab/) are removed when a lab is created.
 *
 * Needs root (or CAP_SYS_ADMIN + CAP_NET_ADMIN) and iproute2. Call
 * `requireSystemHost([...tools])` first: it throws with the reason and the Debian
 * package, so a test fails loudly instead of being skipped.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The repository root (for importing project modules into `lab.node` scripts). */
export const repoRoot = join(import.meta.dirname, '..', '..');

/** A `file:` URL of a project file, e.g. `srcUrl('src/ha/vip.ts')`, for `import` in `lab.node` scripts. */
export function srcUrl(path: string): string {
  return pathToFileURL(join(repoRoot, path)).href;
}

const MARKER_DIR = '/run/palisade-lab';
const NS_PATTERN = /^pal-([0-9a-f]{6})-([a-z0-9-]+)$/;

/** Debian package of each tool a system test may need. */
const PACKAGES: Record<string, string> = {
  ip: 'iproute2',
  keepalived: 'keepalived',
  arping: 'iputils-arping',
  tcpdump: 'tcpdump',
  sysctl: 'procps',
  nft: 'nftables',
};

function which(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(join(d, cmd)));
}

/**
 * Throws unless this process can build labs: root and every tool present. The
 * message names what is missing and the Debian package to install.
 */
export function requireSystemHost(tools: readonly string[] = []): void {
  if (process.platform !== 'linux') throw new Error(`system tests need Linux network namespaces; this is ${process.platform}`);
  if (process.getuid?.() !== 0) throw new Error('system tests need root (network namespaces, raw sockets, addresses); run them as root');
  const missing = ['ip', ...tools].filter((t) => !which(t));
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((t) => PACKAGES[t] ?? t))];
    throw new Error(`system test needs ${missing.map((t) => `\`${t}\``).join(', ')}: apt-get install ${pkgs.join(' ')}`);
  }
}

/** One host of the lab. */
export interface LabHost {
  name: string;
  /** Its network namespace. */
  ns: string;
  /** Its interface on the lab bridge (always `eth0`). */
  ifname: string;
  /** Its address, e.g. 10.99.1.1. */
  address: string;
  /** Its address with the prefix, e.g. 10.99.1.1/24. */
  cidr: string;
  /** MAC of its eth0 (02:99:<net>:00:00:<index>, locally administered). */
  mac: string;
}

export interface LabOptions {
  /** Host names: lower-case letters, digits and dashes, at most 12 characters. */
  hosts: readonly string[];
  /** The third octet: the lab's subnet is 10.99.<net>.0/24. Default 1. Hosts get .1, .2, ... */
  net?: number;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Kill the command (by PID) after this long; default 10000 ms. */
  timeoutMs?: number;
  /** Resolve with a non-zero exit code instead of rejecting. */
  allowFail?: boolean;
  /** Written to the command's stdin. */
  input?: string;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** A process started in a lab host; its output is kept for assertions and diagnostics. */
export interface LabProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** stdout and stderr so far, interleaved, as text. */
  output(): string;
  /** Resolves once a line of output matches; rejects (with the output so far) after the timeout or at exit. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the first JSON line on stdout (from now on or already seen) that `pred` accepts. */
  waitForJson<T = Record<string, unknown>>(pred: (m: T) => boolean, timeoutMs?: number): Promise<T>;
  /** Every JSON line printed on stdout so far. */
  readonly messages: unknown[];
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs` (default 3000); resolves when it is gone. */
  stop(graceMs?: number): Promise<void>;
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ipSync(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
}

function listNamespaces(): string[] {
  try {
    return ipSync(['netns', 'list'])
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((n) => n !== '');
  } catch {
    return [];
  }
}

function nsPids(ns: string): number[] {
  try {
    return ipSync(['netns', 'pids', ns])
      .split('\n')
      .filter((l) => /^\d+$/.test(l))
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * Deletes namespaces of earlier labs whose owner is gone (marker missing, or its PID
 * no longer alive), first ending by PID the processes still inside them (they were
 * started there by that lab's tests). Returns the namespaces removed.
 */
export function removeLeftovers(): string[] {
  const byId = new Map<string, string[]>();
  for (const ns of listNamespaces()) {
    const m = NS_PATTERN.exec(ns);
    if (m === null) continue;
    byId.set(m[1]!, [...(byId.get(m[1]!) ?? []), ns]);
  }
  const removed: string[] = [];
  for (const [id, namespaces] of byId) {
    const marker = join(MARKER_DIR, id);
    let owner = 0;
    try {
      owner = (JSON.parse(readFileSync(marker, 'utf8')) as { pid: number }).pid;
    } catch {
      // no marker: the namespaces match our pattern but nobody claims them
    }
    if (owner !== 0 && alive(owner)) continue;
    for (const ns of namespaces) {
      for (const pid of nsPids(ns)) killQuietly(pid);
      try {
        ipSync(['netns', 'del', ns]);
        removed.push(ns);
      } catch {
        // someone else removed it meanwhile
      }
    }
    rmSync(marker, { force: true });
  }
  // markers whose namespaces are all gone
  if (existsSync(MARKER_DIR)) {
    for (const id of readdirSync(MARKER_DIR)) {
      if (byId.has(id)) continue;
      try {
        const { pid } = JSON.parse(readFileSync(join(MARKER_DIR, id), 'utf8')) as { pid: number };
        if (!alive(pid)) rmSync(join(MARKER_DIR, id), { force: true });
      } catch {
        rmSync(join(MARKER_DIR, id), { force: true });
      }
    }
  }
  return removed;
}

let labsInProcess = 0;

export class Lab {
  /** Random per lab: every name this lab makes contains it. */
  readonly id: string;
  readonly net: number;
  /** The lab's subnet, 10.99.<net>.0/24. */
  readonly subnet: string;
  /** The namespace that holds the bridge. */
  readonly switchNs: string;
  /** The bridge's name (inside `switchNs`). */
  readonly bridge: string;
  readonly hosts: ReadonlyMap<string, LabHost>;
  #pids = new Set<number>();
  #processes = new Set<LabProcess>();
  #namespaces: string[] = [];
  #cleanup: Promise<void> | undefined;
  #done = false;
  #onExit = () => this.cleanupSync();
  #onSignal = (signal: NodeJS.Signals) => {
    this.cleanupSync();
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  };

  constructor(opts: LabOptions) {
    this.id = randomBytes(3).toString('hex');
    this.net = opts.net ?? 1;
    if (!Number.isInteger(this.net) || this.net < 0 || this.net > 255) throw new RangeError(`lab net must be 0-255, got ${this.net}`);
    this.subnet = `10.99.${this.net}.0/24`;
    this.switchNs = `pal-${this.id}-sw`;
    this.bridge = `palbr${this.id}`;
    const hosts = new Map<string, LabHost>();
    opts.hosts.forEach((name, i) => {
      if (!/^[a-z][a-z0-9-]{0,11}$/.test(name) || name === 'sw') throw new RangeError(`lab host name must be 1-12 of [a-z0-9-] (not "sw"), got ${JSON.stringify(name)}`);
      if (hosts.has(name)) throw new RangeError(`lab host ${name} listed twice`);
      const index = i + 1;
      hosts.set(name, {
        name,
        ns: `pal-${this.id}-${name}`,
        ifname: 'eth0',
        address: this.address(index),
        cidr: `${this.address(index)}/24`,
        mac: `02:99:${hex(this.net)}:00:00:${hex(index)}`,
      });
    });
    if (hosts.size === 0 || hosts.size > 200) throw new RangeError(`a lab has 1-200 hosts, got ${hosts.size}`);
    this.hosts = hosts;
  }

  /** 10.99.<net>.<n>: hosts have .1, .2, ...; pick VIPs from .100 up. */
  address(n: number): string {
    return `10.99.${this.net}.${n}`;
  }

  host(name: string): LabHost {
    const h = this.hosts.get(name);
    if (h === undefined) throw new Error(`no lab host ${name} (hosts: ${[...this.hosts.keys()].join(', ')})`);
    return h;
  }

  /** Builds the lab. Called by `createLab`. */
  async up(): Promise<void> {
    mkdirSync(MARKER_DIR, { recursive: true });
    // the marker first: a namespace of ours never exists without its owner's PID on record
    writeFileSync(join(MARKER_DIR, this.id), JSON.stringify({ pid: process.pid, started: new Date().toISOString(), argv: process.argv.slice(1) }));
    process.once('exit', this.#onExit);
    process.once('SIGINT', this.#onSignal);
    process.once('SIGTERM', this.#onSignal);

    const ip = (args: string[]) => this.#run('ip', args);
    await ip(['netns', 'add', this.switchNs]);
    this.#namespaces.push(this.switchNs);
    await ip(['-n', this.switchNs, 'link', 'set', 'lo', 'up']);
    await ip(['-n', this.switchNs, 'link', 'add', this.bridge, 'type', 'bridge']);
    await ip(['-n', this.switchNs, 'link', 'set', this.bridge, 'up']);
    // a switch, not a firewall: where br_netfilter is loaded (Docker loads it), bridged
    // IP would go through the switch namespace's netfilter hooks on every hop
    // (per-namespace sysctls since Linux 5.3)
    await this.#run('ip', ['netns', 'exec', this.switchNs, 'sh', '-c', 'for f in /proc/sys/net/bridge/bridge-nf-call-*; do if [ -e "$f" ]; then echo 0 > "$f"; fi; done']);
    for (const h of this.hosts.values()) {
      await ip(['netns', 'add', h.ns]);
      this.#namespaces.push(h.ns);
      const port = `v-${h.name}`;
      await ip(['-n', h.ns, 'link', 'add', h.ifname, 'address', h.mac, 'type', 'veth', 'peer', 'name', port, 'netns', this.switchNs]);
      await ip(['-n', this.switchNs, 'link', 'set', port, 'master', this.bridge]);
      await ip(['-n', this.switchNs, 'link', 'set', port, 'up']);
      await ip(['-n', h.ns, 'link', 'set', 'lo', 'up']);
      await ip(['-n', h.ns, 'addr', 'add', h.cidr, 'dev', h.ifname]);
      await ip(['-n', h.ns, 'link', 'set', h.ifname, 'up']);
    }
  }

  /** Runs a command in the root namespace, tracked; rejects on non-zero exit with its stderr. */
  #run(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      const child = execFile(cmd, args, { encoding: 'utf8', timeout: opts.timeoutMs ?? 10_000, killSignal: 'SIGKILL', maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (child.pid !== undefined) this.#pids.delete(child.pid);
        const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1;
        if (err !== null && (code === -1 || opts.allowFail !== true)) {
          const why = (err as { killed?: boolean }).killed === true ? `killed after ${opts.timeoutMs ?? 10_000} ms` : `exit ${code}`;
          reject(new Error(`\`${[cmd, ...args].join(' ')}\` failed (${why}): ${stderr.trim() || stdout.trim() || err.message}`));
          return;
        }
        resolve({ code, stdout, stderr });
      });
      if (child.pid !== undefined) this.#pids.add(child.pid);
      if (opts.input !== undefined) child.stdin?.end(opts.input);
    });
  }

  /** Runs `argv` inside host `host` (`ip netns exec`), waits, rejects on non-zero exit unless `allowFail`. */
  exec(host: string, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.#done) return Promise.reject(new Error('the lab is cleaned up'));
    return this.#run('ip', ['netns', 'exec', this.host(host).ns, ...argv], opts);
  }

  /** PIDs of every process in `host`'s namespace (ours, and what ours started there). */
  pidsIn(host: string): number[] {
    return nsPids(this.host(host).ns);
  }

  /** Runs `ip -j ARGS` inside `host` and parses the JSON. */
  async ipJson<T = unknown>(host: string, args: readonly string[]): Promise<T> {
    const r = await this.exec(host, ['ip', '-j', ...args]);
    return JSON.parse(r.stdout === '' ? '[]' : r.stdout) as T;
  }

  /**
   * Starts `argv` inside `host` and tracks its PID (`ip netns exec` execs the
   * command: the PID is the command's own). Stopped by `cleanup()` if still running.
   */
  spawn(host: string, argv: readonly string[], opts: SpawnOptions = {}): LabProcess {
    if (this.#done) throw new Error('the lab is cleaned up');
    const child = spawn('ip', ['netns', 'exec', this.host(host).ns, ...argv], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd ?? repoRoot,
    });
    if (child.pid === undefined) throw new Error(`could not start ${argv.join(' ')} in ${host}`);
    const pid = child.pid;
    this.#pids.add(pid);
    let out = '';
    const lines: string[] = [];
    const messages: unknown[] = [];
    const waiters = new Set<() => void>();
    const splitter = (stream: NodeJS.ReadableStream, json: boolean) => {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (d: string) => {
        out += d;
        partial += d;
        let nl: number;
        while ((nl = partial.indexOf('\n')) >= 0) {
          const line = partial.slice(0, nl);
          partial = partial.slice(nl + 1);
          lines.push(line);
          if (json && line.startsWith('{')) {
            try {
              messages.push(JSON.parse(line));
            } catch {
              // not JSON after all
            }
          }
        }
        for (const w of waiters) w();
      });
    };
    splitter(child.stdout!, true);
    splitter(child.stderr!, false);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => {
        this.#pids.delete(pid);
        resolve({ code, signal });
        for (const w of waiters) w();
      });
    });
    let hasExited = false;
    void exited.then(() => {
      hasExited = true;
    });
    const label = `${argv.slice(0, 3).join(' ')}${argv.length > 3 ? ' …' : ''} in ${host}`;
    const waitFor = <T>(find: () => T | undefined, what: string, timeoutMs: number): Promise<T> =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = find();
          if (found !== undefined) {
            done();
            resolve(found);
          } else if (hasExited) {
            done();
            reject(new Error(`${label} exited before ${what}; output:\n${out}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${label}: no ${what} within ${timeoutMs} ms; output:\n${out}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        void exited.then(check);
        check();
      });
    const proc: LabProcess = {
      child,
      pid,
      messages,
      exited,
      output: () => out,
      waitForLine: (re, timeoutMs = 10_000) => {
        let from = 0;
        return waitFor(
          () => {
            for (; from < lines.length; from++) if (re.test(lines[from]!)) return lines[from]!;
            return undefined;
          },
          `line matching ${re}`,
          timeoutMs,
        );
      },
      waitForJson: <T>(pred: (m: T) => boolean, timeoutMs = 10_000) =>
        waitFor(() => messages.find((m) => pred(m as T)) as T | undefined, 'matching JSON message', timeoutMs),
      stop: async (graceMs = 3000) => {
        if (hasExited) return;
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          return;
        }
        const t = setTimeout(() => {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone meanwhile
          }
        }, graceMs);
        await exited;
        clearTimeout(t);
      },
    };
    this.#processes.add(proc);
    return proc;
  }

  /**
   * Runs a Node script (ES module, JavaScript) inside `host` with this Node binary.
   * Import project modules with `srcUrl('src/…')`. Print JSON lines to talk back
   * (`waitForJson`); the process exits when the script's event loop is empty.
   */
  node(host: string, script: string, opts: SpawnOptions = {}): LabProcess {
    return this.spawn(host, [process.execPath, '--input-type=module', '--no-warnings', '-e', script], opts);
  }

  /** Stops every process the lab started (SIGTERM, SIGKILL after 3 s), then deletes its namespaces. Idempotent. */
  cleanup(): Promise<void> {
    this.#cleanup ??= (async () => {
      await Promise.all([...this.#processes].map((p) => p.stop(3000)));
      this.cleanupSync();
    })();
    return this.#cleanup;
  }

  /** The same, synchronously (for exit and signal handlers): SIGKILL, then delete. Idempotent. */
  cleanupSync(): void {
    if (this.#done) return;
    this.#done = true;
    process.off('exit', this.#onExit);
    process.off('SIGINT', this.#onSignal);
    process.off('SIGTERM', this.#onSignal);
    for (const pid of this.#pids) killQuietly(pid);
    // what our processes started in our namespaces (keepalived's children, say)
    for (const ns of this.#namespaces) for (const pid of nsPids(ns)) killQuietly(pid);
    for (const ns of this.#namespaces.toReversed()) {
      try {
        ipSync(['netns', 'del', ns]);
      } catch {
        // already gone
      }
    }
    rmSync(join(MARKER_DIR, this.id), { force: true });
  }
}

/**
 * Builds a lab (after removing leftovers of dead runs) and registers its cleanup
 * with `t.after` (a `TestContext`, or `{ after }` from node:test) and with process
 * exit/SIGINT/SIGTERM. If building fails halfway, what was built is removed.
 */
export async function createLab(t: { after(fn: () => unknown): void } | undefined, opts: LabOptions): Promise<Lab> {
  removeLeftovers();
  const lab = new Lab({ ...opts, net: opts.net ?? 1 + (labsInProcess++ % 250) });
  t?.after(() => lab.cleanup());
  try {
    await lab.up();
  } catch (err) {
    await lab.cleanup();
    throw err;
  }
  return lab;
}
