/**
 * Virtual IP addresses on an interface, through iproute2 (`ip`), as keepalived's
 * `virtual_ipaddress` does it. Always argument arrays, never a shell.
 *
 * Idempotent: adding an address that is there, or removing one that is not, is not
 * an error (the functions say which it was). Needs CAP_NET_ADMIN to change anything.
 *
 * A master that was SIGKILLed leaves its VIPs configured (keepalived's do too):
 * call `removeStale` at start, before the state machine runs.
 */
import { execFile } from 'node:child_process';
import { isIPv4 } from 'node:net';
import { PalisadeError } from '../core/errors.ts';

/** Result of one command: exit code and output. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `argv` (no shell); injectable so that tests can stand in for `ip` and `arping`. */
export type CommandRunner = (argv: readonly string[], opts: { timeoutMs: number; signal?: AbortSignal }) => Promise<CommandResult>;

/** Debian package of each tool, for error messages. */
const PACKAGE: Record<string, string> = { ip: 'iproute2', arping: 'iputils-arping' };

/**
 * The default runner: `execFile` with a timeout. A missing binary or a timeout is
 * thrown as a `PalisadeError` naming the Debian package; a non-zero exit is returned.
 */
export const execCommand: CommandRunner = (argv, opts) =>
  new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    if (cmd === undefined) {
      reject(new TypeError('empty command'));
      return;
    }
    execFile(cmd, args, { timeout: opts.timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8', maxBuffer: 4 * 1024 * 1024, signal: opts.signal }, (err, stdout, stderr) => {
      if (err === null) {
        resolve({ code: 0, stdout, stderr });
        return;
      }
      const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
      if (e.name === 'AbortError') {
        reject(new PalisadeError('PALISADE_HA_COMMAND', 'internal', `\`${argv.join(' ')}\` was cancelled`, { cause: err }));
      } else if (e.code === 'ENOENT') {
        const pkg = PACKAGE[cmd] === undefined ? '' : ` (Debian package ${PACKAGE[cmd]})`;
        reject(new PalisadeError('PALISADE_HA_COMMAND', 'config', `\`${cmd}\` not found on PATH: install it${pkg}`, { cause: err }));
      } else if (e.killed === true) {
        reject(new PalisadeError('PALISADE_HA_COMMAND', 'internal', `\`${argv.join(' ')}\` did not finish within ${opts.timeoutMs} ms`, { cause: err }));
      } else if (typeof e.code === 'number') {
        resolve({ code: e.code, stdout, stderr });
      } else {
        reject(new PalisadeError('PALISADE_HA_COMMAND', 'internal', `\`${argv.join(' ')}\`: ${err.message}`, { cause: err }));
      }
    });
  });

/** Options shared by the functions here. */
export interface IpOptions {
  /** Runs commands; default `execCommand`. */
  run?: CommandRunner;
  /** Per command; default 5000 ms. */
  timeoutMs?: number;
}

/** One IPv4 address of an interface, as `ip -j addr show` lists it. */
export interface InterfaceAddress {
  address: string;
  prefixlen: number;
  /** The address label (e.g. `eth0:vip`), when it has one. */
  label?: string;
  /** True for a secondary address (a second one in a subnet already on the interface). */
  secondary: boolean;
}

/** A VIP as written in the cluster file: `192.0.2.10` (meaning /32, as keepalived) or `192.0.2.10/24`. */
export function parseVip(vip: string): { address: string; prefixlen: number } {
  const m = /^([^/]+)(?:\/(\d{1,2}))?$/.exec(vip.trim());
  const prefixlen = m?.[2] === undefined ? 32 : Number(m[2]);
  if (m === null || !isIPv4(m[1]!) || prefixlen > 32) {
    throw new PalisadeError('PALISADE_HA_VIP', 'config', `not an IPv4 address or CIDR: ${JSON.stringify(vip)} (expected e.g. 192.0.2.10 or 192.0.2.10/24)`);
  }
  return { address: m[1]!, prefixlen };
}

async function ip(args: readonly string[], opts: IpOptions): Promise<CommandResult> {
  const run = opts.run ?? execCommand;
  const r = await run(['ip', ...args], { timeoutMs: opts.timeoutMs ?? 5000 });
  return { ...r, stderr: r.stderr.trim(), stdout: r.stdout };
}

function failure(what: string, args: readonly string[], r: CommandResult): PalisadeError {
  const needsAdmin = /Operation not permitted|permission denied/i.test(r.stderr);
  const hint = needsAdmin ? ' — needs CAP_NET_ADMIN (run as root, or systemd AmbientCapabilities=CAP_NET_ADMIN)' : '';
  return new PalisadeError('PALISADE_HA_VIP', needsAdmin ? 'config' : 'internal', `${what}: \`ip ${args.join(' ')}\` exited ${r.code}: ${r.stderr || r.stdout.trim() || 'no output'}${hint}`);
}

/** The IPv4 addresses of `dev`, in the kernel's order (primary first). */
export async function listAddresses(dev: string, opts: IpOptions = {}): Promise<InterfaceAddress[]> {
  const args = ['-j', '-4', 'addr', 'show', 'dev', dev];
  const r = await ip(args, opts);
  if (r.code !== 0) throw failure(`listing the addresses of ${dev}`, args, r);
  let links: unknown;
  try {
    links = JSON.parse(r.stdout === '' ? '[]' : r.stdout);
  } catch (err) {
    throw new PalisadeError('PALISADE_HA_VIP', 'internal', `\`ip ${args.join(' ')}\` printed no JSON (iproute2 too old?): ${r.stdout.slice(0, 200)}`, { cause: err });
  }
  const out: InterfaceAddress[] = [];
  for (const link of links as { addr_info?: { family?: string; local?: string; prefixlen?: number; label?: string; secondary?: boolean }[] }[]) {
    for (const a of link.addr_info ?? []) {
      if (a.family !== 'inet' || a.local === undefined) continue;
      const entry: InterfaceAddress = { address: a.local, prefixlen: a.prefixlen ?? 32, secondary: a.secondary === true };
      if (a.label !== undefined && a.label !== dev) entry.label = a.label;
      out.push(entry);
    }
  }
  return out;
}

/**
 * Adds `vip` (`192.0.2.10` = /32, or a CIDR) to `dev`. Resolves true when added,
 * false when it was already there with that prefix. One `ip` run, no listing first:
 * this is on the takeover path, where every spawned process costs milliseconds.
 */
export async function addVip(vip: string, dev: string, opts: IpOptions & { label?: string } = {}): Promise<boolean> {
  const { address, prefixlen } = parseVip(vip);
  const args = ['-4', 'addr', 'add', `${address}/${prefixlen}`, 'dev', dev];
  if (opts.label !== undefined) args.push('label', opts.label);
  const r = await ip(args, opts);
  if (r.code === 0) return true;
  if (/File exists|already assigned/i.test(r.stderr)) return false;
  throw failure(`adding VIP ${vip} to ${dev}`, args, r);
}

/**
 * Removes `vip` from `dev` (matching the address, whatever its prefix there).
 * Resolves true when removed, false when it was not there.
 */
export async function removeVip(vip: string, dev: string, opts: IpOptions = {}): Promise<boolean> {
  const { address } = parseVip(vip);
  const present = (await listAddresses(dev, opts)).find((a) => a.address === address);
  if (present === undefined) return false;
  const args = ['-4', 'addr', 'del', `${address}/${present.prefixlen}`, 'dev', dev];
  const r = await ip(args, opts);
  if (r.code === 0) return true;
  if (/Cannot assign requested address|Address not found/i.test(r.stderr)) return false;
  throw failure(`removing VIP ${vip} from ${dev}`, args, r);
}

/**
 * Removes every one of `vips` that is still on `dev`, e.g. left by a SIGKILLed
 * master. Call it at start, before becoming BACKUP or MASTER. Resolves the VIPs it
 * removed (as given).
 */
export async function removeStale(vips: readonly string[], dev: string, opts: IpOptions = {}): Promise<string[]> {
  const present = new Set((await listAddresses(dev, opts)).map((a) => a.address));
  const removed: string[] = [];
  for (const vip of vips) {
    if (!present.has(parseVip(vip).address)) continue;
    if (await removeVip(vip, dev, opts)) removed.push(vip);
  }
  return removed;
}
