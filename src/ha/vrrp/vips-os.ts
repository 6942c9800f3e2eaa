/**
 * Holding VIPs for real (transport: raw): addresses added to and removed from their
 * interfaces with iproute2, gratuitous ARP with arping. Stale VIPs (a killed master
 * leaves them behind) are removed by the state machine's startup `removeVips`.
 */
import type { VrrpInstanceConfig } from '../../config/ha-schema.ts';
import type { Logger } from '../../core/logger.ts';
import { errorMessage } from '../../core/errors.ts';
import { sendGratuitousArp } from '../garp.ts';
import { addVip, removeVip } from '../vip.ts';
import type { VipDriver } from './instance.ts';

export function osVipDriver(inst: VrrpInstanceConfig, iface: string, log: Logger): VipDriver {
  const vips = inst.virtual_ipaddress.map((v) => ({ cidr: `${v.address}/${v.prefix}`, address: v.address, dev: v.dev ?? iface }));
  // Announcing a VIP we are giving up would send clients to us: removal cancels it.
  let garps = new AbortController();
  return {
    async add() {
      for (const v of vips) {
        if (await addVip(v.cidr, v.dev)) log.info({ vip: v.cidr, dev: v.dev }, `added VIP ${v.cidr} on ${v.dev}`);
      }
    },
    async remove() {
      garps.abort();
      garps = new AbortController();
      for (const v of vips) {
        if (await removeVip(v.cidr, v.dev)) log.info({ vip: v.cidr, dev: v.dev }, `removed VIP ${v.cidr} from ${v.dev}`);
      }
    },
    async garp(count: number) {
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
