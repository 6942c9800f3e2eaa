/**
 * Holding VIPs for real (transport: raw): addresses added to and removed from their
 * interfaces, gratuitous ARP after a takeover. Stale VIPs (a killed master leaves
 * them behind) are removed by the state machine's startup `removeVips`.
 *
 * With the raw-socket addon (always there with `transport: raw`) this is netlink and
 * a packet socket, as keepalived does: a takeover spawns nothing. Without it, the
 * same through iproute2 and arping.
 */
import type { VrrpInstanceConfig } from '../../config/ha-schema.ts';
import type { Logger } from '../../core/logger.ts';
import { errorMessage } from '../../core/errors.ts';
import { sendGratuitousArp } from '../garp.ts';
import { addVip, removeVip } from '../vip.ts';
import type { VipDriver } from './instance.ts';
import { encodeGratuitousArp } from './packet.ts';
import { interfaceMac, loadAddon, netlinkAddress, sendFrame } from './raw.ts';

function addonLoads(): boolean {
  try {
    loadAddon();
    return true;
  } catch {
    return false;
  }
}

export function osVipDriver(inst: VrrpInstanceConfig, iface: string, log: Logger, opts: { native?: boolean } = {}): VipDriver {
  const vips = inst.virtual_ipaddress.map((v) => ({ cidr: `${v.address}/${v.prefix}`, address: v.address, prefix: v.prefix, dev: v.dev ?? iface }));
  const native = opts.native ?? addonLoads();
  // Announcing a VIP we are giving up would send clients to us: removal cancels it.
  let garps = new AbortController();
  return {
    async add() {
      for (const v of vips) {
        const added = native ? netlinkAddress('add', v.address, v.prefix, v.dev) : await addVip(v.cidr, v.dev);
        if (added) log.info({ vip: v.cidr, dev: v.dev }, `added VIP ${v.cidr} on ${v.dev}`);
      }
    },
    async remove() {
      garps.abort();
      garps = new AbortController();
      for (const v of vips) {
        // Not there with our prefix: it may be there with another one (an older config); iproute2 finds it.
        let removed = native ? netlinkAddress('del', v.address, v.prefix, v.dev) : false;
        if (!removed) removed = await removeVip(v.cidr, v.dev);
        if (removed) log.info({ vip: v.cidr, dev: v.dev }, `removed VIP ${v.cidr} from ${v.dev}`);
      }
    },
    async garp(count: number) {
      if (native) {
        for (const v of vips) {
          try {
            const frame = encodeGratuitousArp(interfaceMac(v.dev), v.address);
            for (let i = 0; i < count; i++) sendFrame(v.dev, frame);
          } catch (err) {
            log.warn({ vip: v.address, dev: v.dev, err: errorMessage(err) }, 'gratuitous ARP failed');
          }
        }
        return;
      }
      await Promise.all(
        vips.map((v) =>
          sendGratuitousArp(v.address, v.dev, { count, signal: garps.signal }).catch((err: unknown) => {
            log.warn({ vip: v.address, dev: v.dev, err: errorMessage(err) }, 'gratuitous ARP failed');
          }),
        ),
      );
    },
  };
}
