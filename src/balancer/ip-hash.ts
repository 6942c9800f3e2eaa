import { isV4Mapped, parseIPv4, parseIPv6 } from './hashing.ts';
import { Pool, poolMethods } from './pool.ts';
import { WeightRanges } from './ranges.ts';
import { SmoothWeighted } from './swrr.ts';
import type { Backend, PickContext, Scheduler } from './types.ts';

/** nginx rehashes up to 20 more times before falling back to round robin. */
const TRIES = 21;

const bytes = new Uint8Array(16);
const words = new Uint16Array(8);

/**
 * The bytes nginx hashes for a client: the first three octets of an IPv4 address,
 * all 16 of an IPv6 one. An IPv4-mapped IPv6 address (what a dual-stack listener
 * reports for IPv4 clients) counts as IPv4 here; nginx hashes it as IPv6. Anything
 * else (a Unix socket) hashes as three zero bytes (ngx_http_upstream_ip_hash_pseudo_addr).
 */
function clientBytes(client: string): number {
  const v4 = parseIPv4(client);
  if (v4 >= 0) {
    bytes[0] = v4 >>> 24;
    bytes[1] = (v4 >>> 16) & 0xff;
    bytes[2] = (v4 >>> 8) & 0xff;
    return 3;
  }
  if (parseIPv6(client, words)) {
    if (isV4Mapped(words)) {
      bytes[0] = words[6]! >>> 8;
      bytes[1] = words[6]! & 0xff;
      bytes[2] = words[7]! >>> 8;
      return 3;
    }
    for (let k = 0; k < 8; k++) {
      bytes[2 * k] = words[k]! >>> 8;
      bytes[2 * k + 1] = words[k]! & 0xff;
    }
    return 16;
  }
  bytes[0] = bytes[1] = bytes[2] = 0;
  return 3;
}

/**
 * `ip_hash`: nginx's ip_hash (ngx_http_upstream_ip_hash_module.c). The hash starts
 * at 89 and takes each address byte as hash = (hash × 113 + byte) mod 6271; the
 * backend is the one whose range of configured weights holds hash mod total weight.
 * When it is unusable, the same bytes are hashed again on top (nginx's rehash), up to
 * 20 times; then nginx's round robin decides.
 */
export function createIpHash(backends: readonly Backend[]): Scheduler {
  const pool = new Pool(backends);
  const ranges = new WeightRanges(pool.list);
  const fallback = new SmoothWeighted(pool);
  return {
    name: 'ip_hash',
    pick(ctx: PickContext) {
      if (ranges.total > 0) {
        const len = clientBytes(ctx.client);
        let hash = 89;
        for (let t = 0; t < TRIES; t++) {
          for (let k = 0; k < len; k++) hash = (hash * 113 + bytes[k]!) % 6271;
          const i = ranges.find(hash % ranges.total);
          if (pool.usable(i, ctx)) return pool.list[i];
        }
      }
      const i = fallback.pick(ctx);
      return i < 0 ? undefined : pool.list[i];
    },
    ...poolMethods(pool, (i, what) => {
      if (what === 'down') fallback.reset(i);
    }),
  };
}
