/**
 * Gratuitous ARP after a takeover, with `arping` from iputils-arping: unsolicited ARP
 * requests (sender IP = target IP = the VIP, to the broadcast address), the frame
 * keepalived sends (see test vectors `vrrp/garp-U.hex`). Neighbours that have the VIP
 * in their ARP cache (clients, the gateway) update it to our MAC at once; without it
 * a client stayed cut off for ~34 s in the lab.
 *
 * arping binds to the VIP, so add the VIP first. Argument arrays, never a shell.
 * arping needs CAP_NET_RAW; Debian installs it with that file capability.
 */
import { isIPv4 } from 'node:net';
import { PalisadeError } from '../core/errors.ts';
import { execCommand } from './vip.ts';
import type { CommandRunner } from './vip.ts';

/** Options of `sendGratuitousArp`. */
export interface GarpOptions {
  /**
   * ARP requests to send, one a second (arping's interval has a one-second
   * granularity); the first leaves at once. Default 3.
   */
  count?: number;
  /** Kill arping after this long; default count × 1000 + 2000 ms. */
  timeoutMs?: number;
  /** Runs commands; default `execCommand` (tests stand in for arping). */
  run?: CommandRunner;
}

/** The argv of one GARP burst: `arping -U -c COUNT -I DEV -s VIP VIP`. */
export function garpArgv(address: string, dev: string, count: number): string[] {
  return ['arping', '-U', '-c', String(count), '-I', dev, '-s', address, address];
}

/**
 * Announces `address` on `dev` with unsolicited ARP requests. Resolves when arping
 * is done (about `count` seconds); rejects with a `PalisadeError` naming the cause
 * (arping missing → the Debian package; the VIP not on `dev`; no such interface).
 */
export async function sendGratuitousArp(address: string, dev: string, opts: GarpOptions = {}): Promise<void> {
  if (!isIPv4(address)) throw new PalisadeError('PALISADE_INTERNAL', 'config', `gratuitous ARP: not an IPv4 address: ${JSON.stringify(address)}`);
  const count = opts.count ?? 3;
  if (!Number.isInteger(count) || count < 1 || count > 100) throw new RangeError(`gratuitous ARP count must be 1-100, got ${count}`);
  const argv = garpArgv(address, dev, count);
  const r = await (opts.run ?? execCommand)(argv, { timeoutMs: opts.timeoutMs ?? count * 1000 + 2000 });
  if (r.code === 0) return;
  const out = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-2).join('; ');
  let hint = '';
  if (/Cannot assign requested address/i.test(out)) hint = ` — is ${address} configured on ${dev}? arping sends from the VIP, so add it first`;
  else if (/not available|No such device/i.test(out)) hint = ` — no interface ${dev} here`;
  else if (/Operation not permitted|permission/i.test(out)) hint = ' — arping needs CAP_NET_RAW (root, or the file capability Debian gives /usr/bin/arping)';
  throw new PalisadeError('PALISADE_INTERNAL', 'internal', `gratuitous ARP for ${address} on ${dev}: \`${argv.join(' ')}\` exited ${r.code}: ${out || 'no output'}${hint}`);
}
