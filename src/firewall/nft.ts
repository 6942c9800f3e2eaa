/**
 * The `nft` command, the edge of the firewall module: every call is an argument
 * array (never a shell), the ruleset goes in on stdin, and a failure says what is
 * missing (the program, or CAP_NET_ADMIN) or what nft refused.
 */
import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { PalisadeError } from '../core/errors.ts';
import { TABLE_FAMILY, TABLE_NAME } from './render.ts';

/** Why an nft call failed: the program is missing, it lacks the capability, nft refused the input, or it did not finish. */
export type NftFailure = 'missing' | 'permission' | 'refused' | 'timeout';

export class NftError extends PalisadeError {
  readonly failure: NftFailure;
  readonly stderr: string;
  constructor(failure: NftFailure, message: string, stderr = '') {
    super('PALISADE_FIREWALL_NFT', 'internal', message);
    this.name = 'NftError';
    this.failure = failure;
    this.stderr = stderr;
  }
}

export interface NftResult {
  stdout: string;
  stderr: string;
}

/** Runs nft with `args` (and `input` on stdin). Injected in tests of the apply flow. */
export type NftRunner = (args: readonly string[], input?: string) => Promise<NftResult>;

/** Where nft is looked for besides PATH: a non-root PATH often lacks the sbin directories. */
const SBIN = ['/usr/sbin', '/sbin', '/usr/local/sbin'];

/** The nft program: the first executable `nft` on PATH or in the sbin directories; undefined if none. */
export async function findNft(path = process.env.PATH ?? ''): Promise<string | undefined> {
  const dirs = [...path.split(':').filter((d) => d !== ''), ...SBIN];
  for (const d of dirs) {
    const p = join(d, 'nft');
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

const PERMISSION = /Operation not permitted|Permission denied/i;

/** A runner calling the real nft (found with `findNft` unless `program` is given). */
export function nftRunner(opts: { program?: string; timeoutMs?: number } = {}): NftRunner {
  let program: Promise<string | undefined> | undefined;
  return async (args, input) => {
    program ??= opts.program === undefined ? findNft() : Promise.resolve(opts.program);
    const nft = await program;
    if (nft === undefined) throw new NftError('missing', `nft is not installed (looked on PATH and in ${SBIN.join(', ')}): install the Debian package nftables`);
    const timeout = opts.timeoutMs ?? 30_000;
    return new Promise<NftResult>((resolve, reject) => {
      const child = execFile(nft, [...args], { encoding: 'utf8', timeout, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err === null) {
          resolve({ stdout, stderr });
          return;
        }
        const e = err as NodeJS.ErrnoException & { killed?: boolean };
        const cmd = `nft ${args.join(' ')}`;
        if (e.code === 'ENOENT') reject(new NftError('missing', `${nft} could not be started (${e.message}): install the Debian package nftables`));
        else if (e.code === 'EACCES') reject(new NftError('permission', `${nft} is not executable for this user (${e.message})`));
        else if (e.killed === true) reject(new NftError('timeout', `\`${cmd}\` did not finish within ${timeout} ms`, stderr));
        else if (PERMISSION.test(stderr)) {
          reject(new NftError('permission', `\`${cmd}\` was refused by the kernel: changing or reading nftables needs CAP_NET_ADMIN (run as root, or give the process the capability, e.g. systemd AmbientCapabilities=CAP_NET_ADMIN)`, stderr));
        } else reject(new NftError('refused', `\`${cmd}\` failed: ${stderr.trim() || stdout.trim() || e.message}`, stderr));
      });
      child.stdin?.on('error', () => {
        // nft exited before reading all of stdin; its exit status tells why
      });
      child.stdin?.end(input ?? '');
    });
  };
}

/** The operations the firewall needs, on top of a runner. */
export class Nft {
  readonly run: NftRunner;
  constructor(run: NftRunner = nftRunner()) {
    this.run = run;
  }

  /** Loads a ruleset file as one transaction (`nft -f -`): all of it or nothing. */
  async load(text: string): Promise<void> {
    await this.run(['-f', '-'], text);
  }

  /** Checks a ruleset without loading it (`nft -c -f -`). Still needs CAP_NET_ADMIN: nft asks the kernel. */
  async check(text: string): Promise<void> {
    await this.run(['-c', '-f', '-'], text);
  }

  /** Our table as `nft list table inet palisade` prints it (a loadable definition), or undefined if it does not exist. */
  async listTable(): Promise<string | undefined> {
    try {
      return (await this.run(['list', 'table', TABLE_FAMILY, TABLE_NAME])).stdout;
    } catch (err) {
      if (err instanceof NftError && err.failure === 'refused' && /No such file or directory|does not exist/i.test(err.stderr)) return undefined;
      throw err;
    }
  }

  /** Our named counters (name → packets, bytes); undefined if our table does not exist. */
  async counters(): Promise<Map<string, { packets: number; bytes: number }> | undefined> {
    let out: string;
    try {
      out = (await this.run(['-j', 'list', 'counters', 'table', TABLE_FAMILY, TABLE_NAME])).stdout;
    } catch (err) {
      if (err instanceof NftError && err.failure === 'refused' && /No such file or directory|does not exist/i.test(err.stderr)) return undefined;
      throw err;
    }
    return parseCounters(out);
  }
}

/** Named counters of our table from `nft -j list counters ...` output. Pure. */
export function parseCounters(json: string): Map<string, { packets: number; bytes: number }> {
  const doc = JSON.parse(json) as { nftables?: Record<string, unknown>[] };
  const out = new Map<string, { packets: number; bytes: number }>();
  for (const item of doc.nftables ?? []) {
    const c = item.counter as { family?: string; table?: string; name?: string; packets?: number; bytes?: number } | undefined;
    if (c === undefined || c.table !== TABLE_NAME || c.family !== TABLE_FAMILY || c.name === undefined) continue;
    out.set(c.name, { packets: c.packets ?? 0, bytes: c.bytes ?? 0 });
  }
  return out;
}
