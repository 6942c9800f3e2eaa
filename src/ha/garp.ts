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
  /** Gratuitous ARPs to send, all at once (keepalived's `vrrp_garp_interval` 0). Default 3. */
  count?: number;
  /** Kill each arping after this long; default 3000 ms (arping lingers 1 s after its packet). */
  timeoutMs?: number;
  /** Cancels what has not finished (the VIP is being removed: announcing it would be wrong). */
  signal?: AbortSignal;
  /** Runs commands; default `execCommand` (tests stand in for arping). */
  run?: CommandRunner;
}

/** The argv of one arping run: `arping -U -c COUNT -I DEV -s VIP VIP`. */
export function garpArgv(address: string, dev: string, count: number): string[] {
  return ['arping', '-U', '-c', String(count), '-I', dev, '-s', address, address];
}

/**
 * Announces `address` on `dev` with `count` unsolicited ARP requests. arping spaces
 * its packets a whole second apart (and lingers a second after the last one), so
 * each ARP is its own `arping -c 1`, all started at once: the packets leave within
 * milliseconds and the burst is over in about a second. Resolves when every arping
 * is done or cancelled; rejects with a `PalisadeError` naming the cause (arping
 * missing → the Debian package; the VIP not on `dev`; no such interface).
 */
export async function sendGratuitousArp(address: string, dev: string, opts: GarpOptions = {}): Promise<void> {
  if (!isIPv4(address)) throw new PalisadeError('PALISADE_HA_GARP', 'config', `gratuitous ARP: not an IPv4 address: ${JSON.stringify(address)}`);
  const count = opts.count ?? 3;
  if (!Number.isInteger(count) || count < 1 || count > 255) throw new RangeError(`gratuitous ARP count must be 1-255, got ${count}`);
  const argv = garpArgv(address, dev, 1);
  const run = opts.run ?? execCommand;
  const runs = await Promise.allSettled(Array.from({ length: count }, () => run(argv, { timeoutMs: opts.timeoutMs ?? 3000, signal: opts.signal })));
  if (opts.signal?.aborted === true) return;
  for (const r of runs) {
    if (r.status === 'rejected') throw r.reason;
    if (r.value.code === 0) continue;
    const out = (r.value.stderr.trim() || r.value.stdout.trim()).split('\n').slice(-2).join('; ');
    let hint = '';
    if (/Cannot assign requested address/i.test(out)) hint = ` — is ${address} configured on ${dev}? arping sends from the VIP, so add it first`;
    else if (/not available|No such device/i.test(out)) hint = ` — no interface ${dev} here`;
    else if (/Operation not permitted|permission/i.test(out)) hint = ' — arping needs CAP_NET_RAW (root, or the file capability Debian gives /usr/bin/arping)';
    throw new PalisadeError('PALISADE_HA_GARP', 'internal', `gratuitous ARP for ${address} on ${dev}: \`${argv.join(' ')}\` exited ${r.value.code}: ${out || 'no output'}${hint}`);
  }
}
