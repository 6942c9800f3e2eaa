/**
 * The real-server side of direct routing (LVS -g), what the seed's `lvs_real`
 * script did: each VIP on `lo` as a /32 (so the server accepts packets for it),
 * and ARP settings so that it never answers ARP for the VIP nor uses it as the
 * source of its own ARP requests — only the director may own the VIP on the segment:
 *
 *   net.ipv4.conf.{all,lo,IF}.arp_ignore   = 1  (answer only for addresses on the interface asked)
 *   net.ipv4.conf.{all,lo,IF}.arp_announce = 2  (announce the best local address of the interface)
 *
 * `start` records what it changed (the previous sysctl values, the VIPs it added)
 * in a state file; `stop` puts every value back and removes only the VIPs it added.
 * Running `start` twice keeps the first recorded values.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isIP } from 'node:net';
import type { ClusterConfig } from '../config/schema.ts';
import { isKernelService } from './l4-kernel.ts';

export interface RealserverState {
  /** sysctl file → the value before `start`. */
  sysctls: Record<string, string>;
  /** VIPs this command added to lo (not those that were there already). */
  added: string[];
  /** Every VIP it set up. */
  vips: string[];
}

/** The sysctl files and values `start` sets, for these interfaces (plus all and lo). Pure. */
export function realserverSysctls(interfaces: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const dev of ['all', 'lo', ...interfaces.filter((d) => d !== 'all' && d !== 'lo')]) {
    out[`/proc/sys/net/ipv4/conf/${dev}/arp_ignore`] = '1';
    out[`/proc/sys/net/ipv4/conf/${dev}/arp_announce`] = '2';
  }
  return out;
}

/** The VIPs of mode dr services that have a backend on one of `addresses` (this host). Pure. */
export function drVipsFor(config: ClusterConfig, addresses: readonly string[]): string[] {
  const vips = new Set<string>();
  for (const svc of Object.values(config.services)) {
    if (!isKernelService(svc) || svc.mode !== 'dr') continue;
    if (!svc.backends.some((b) => addresses.includes(b.host))) continue;
    for (const l of svc.listen) vips.add(l.host);
  }
  return [...vips];
}

function ip(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', [...args], { encoding: 'utf8', timeout: 5_000 }, (err, stdout, stderr) => (err === null ? resolve(stdout) : reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() || err.message}`))));
  });
}

async function loAddresses(): Promise<string[]> {
  const rows = JSON.parse((await ip(['-j', 'addr', 'show', 'dev', 'lo'])) || '[]') as { addr_info?: { local?: string; prefixlen?: number }[] }[];
  return rows.flatMap((r) => (r.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`));
}

/** The interface this host would send to `vip` through (before the VIP is on lo). */
async function interfaceTowards(vip: string): Promise<string | undefined> {
  const rows = JSON.parse((await ip(['-j', 'route', 'get', vip]).catch(() => '[]')) || '[]') as { dev?: string }[];
  const dev = rows[0]?.dev;
  return dev === 'lo' ? undefined : dev;
}

export function defaultStateFile(runtimeDir: string): string {
  return join(runtimeDir, 'realserver.json');
}

async function readState(file: string): Promise<RealserverState | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as RealserverState;
  } catch {
    return undefined;
  }
}

/** Sets up this host as a DR real server for `vips`; returns what it did. */
export async function realserverStart(opts: { vips: readonly string[]; interfaces?: readonly string[]; stateFile: string }): Promise<{ state: RealserverState; interfaces: string[] }> {
  for (const v of opts.vips) if (isIP(v) !== 4) throw new Error(`expected a VIP as an IPv4 address, got ${JSON.stringify(v)}`);
  if (opts.vips.length === 0) throw new Error('no VIP to set up: give --vip ADDRESS, or -c FILE with a mode dr service that has this host as a backend');
  const state: RealserverState = (await readState(opts.stateFile)) ?? { sysctls: {}, added: [], vips: [] };
  let interfaces = [...(opts.interfaces ?? [])];
  if (interfaces.length === 0) {
    for (const v of opts.vips) {
      const dev = await interfaceTowards(v);
      if (dev !== undefined && !interfaces.includes(dev)) interfaces.push(dev);
    }
  }
  interfaces = interfaces.filter((d) => /^[A-Za-z0-9_.:@-]{1,15}$/.test(d));
  const wanted = realserverSysctls(interfaces);
  // read every previous value first: a missing interface fails before anything changed
  for (const file of Object.keys(wanted)) {
    let before: string;
    try {
      before = (await readFile(file, 'utf8')).trim();
    } catch (err) {
      throw new Error(`cannot read ${file} (${(err as Error).message}): is the interface there? Nothing was changed`, { cause: err });
    }
    state.sysctls[file] ??= before;
  }
  for (const v of opts.vips) if (!state.vips.includes(v)) state.vips.push(v);
  const have = await loAddresses();
  const toAdd = opts.vips.filter((v) => !have.includes(`${v}/32`));
  for (const v of toAdd) if (!state.added.includes(v)) state.added.push(v);
  // the state goes down before the first change, so that `stop` can undo a start that failed halfway
  await mkdir(dirname(opts.stateFile), { recursive: true });
  await writeFile(opts.stateFile, `${JSON.stringify(state, null, 2)}\n`);
  for (const [file, value] of Object.entries(wanted)) await writeFile(file, value);
  for (const v of toAdd) await ip(['addr', 'add', `${v}/32`, 'dev', 'lo']);
  return { state, interfaces };
}

/** Undoes `realserverStart`: restores the sysctls and removes the VIPs it added. Returns what it restored, or undefined if nothing was set up. */
export async function realserverStop(opts: { stateFile: string }): Promise<RealserverState | undefined> {
  const state = await readState(opts.stateFile);
  if (state === undefined) return undefined;
  const problems: string[] = [];
  for (const v of state.added) {
    await ip(['addr', 'del', `${v}/32`, 'dev', 'lo']).catch((err: Error) => {
      if (!/Cannot assign requested address/.test(err.message)) problems.push(err.message);
    });
  }
  for (const [file, value] of Object.entries(state.sysctls)) {
    await writeFile(file, value).catch((err: Error) => problems.push(`${file}: ${err.message}`));
  }
  if (problems.length > 0) throw new Error(`could not undo everything: ${problems.join('; ')} (state kept in ${opts.stateFile})`);
  await rm(opts.stateFile, { force: true });
  return state;
}

/** What is set up now, from the state file and the system. */
export async function realserverStatus(opts: { stateFile: string }): Promise<{ state: RealserverState | undefined; lo: string[]; sysctls: Record<string, string> }> {
  const state = await readState(opts.stateFile);
  const sysctls: Record<string, string> = {};
  for (const file of Object.keys(state?.sysctls ?? realserverSysctls([]))) sysctls[file] = (await readFile(file, 'utf8').catch(() => '?')).trim();
  return { state, lo: await loAddresses(), sysctls };
}
