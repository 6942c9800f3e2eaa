/**
 * IPv4 / IPv6 networks for the ruleset: parsed, host bits masked, written in one
 * canonical form, and reduced so that no network of a list lies inside another
 * (nftables refuses overlapping elements in an interval set). Pure.
 */
import { isIP } from 'node:net';

export interface Network {
  family: 4 | 6;
  /** The network address as a number (host bits zero). */
  base: bigint;
  prefix: number;
}

function v4ToBig(a: string): bigint {
  return a.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
}

function v6ToBig(a: string): bigint {
  let text = a;
  // an embedded IPv4 tail (::ffff:192.0.2.1) becomes two hex groups
  const dot = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dot) {
    const n = v4ToBig(dot[1]!);
    text = `${text.slice(0, dot.index)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head === '' || head === undefined ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

function bits(family: 4 | 6): number {
  return family === 4 ? 32 : 128;
}

function mask(family: 4 | 6, prefix: number): bigint {
  const all = (1n << BigInt(bits(family))) - 1n;
  return all ^ ((1n << BigInt(bits(family) - prefix)) - 1n);
}

/** `addr` or `addr/len`; host bits are cleared (`10.99.1.100/24` → 10.99.1.0/24). Undefined if invalid. */
export function parseNetwork(text: string): Network | undefined {
  const [addr, len, extra] = text.trim().split('/');
  if (addr === undefined || extra !== undefined) return undefined;
  const family = isIP(addr);
  if (family !== 4 && family !== 6) return undefined;
  const prefix = len === undefined ? bits(family) : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
  if (!(prefix >= 0 && prefix <= bits(family))) return undefined;
  const n = family === 4 ? v4ToBig(addr) : v6ToBig(addr);
  return { family, base: n & mask(family, prefix), prefix };
}

function formatV6(n: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: the longest run (first if tied) of two or more zero groups becomes "::"
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hexes = groups.map((g) => g.toString(16));
  if (best < 0) return hexes.join(':');
  return `${hexes.slice(0, best).join(':')}::${hexes.slice(best + bestLen).join(':')}`;
}

/** `10.0.0.0/8`, `2001:db8::/32`; a single host without the length (`192.0.2.7`, `2001:db8::1`). */
export function formatNetwork(n: Network): string {
  const addr = n.family === 4 ? [24n, 16n, 8n, 0n].map((s) => String((n.base >> s) & 0xffn)).join('.') : formatV6(n.base);
  return n.prefix === bits(n.family) ? addr : `${addr}/${n.prefix}`;
}

/** Whether `inner` lies inside `outer` (same family, equal or longer prefix). */
export function contains(outer: Network, inner: Network): boolean {
  return outer.family === inner.family && outer.prefix <= inner.prefix && (inner.base & mask(outer.family, outer.prefix)) === outer.base;
}

/**
 * The networks of one family from `texts`, canonical, sorted, without duplicates
 * and without any network that another one of the list already covers.
 */
export function reduceNetworks(texts: readonly string[], family: 4 | 6): string[] {
  const nets = texts
    .map(parseNetwork)
    .filter((n): n is Network => n !== undefined && n.family === family)
    .toSorted((a, b) => a.prefix - b.prefix || (a.base < b.base ? -1 : a.base > b.base ? 1 : 0));
  const kept: Network[] = [];
  for (const n of nets) if (!kept.some((k) => contains(k, n))) kept.push(n);
  return kept.toSorted((a, b) => (a.base < b.base ? -1 : a.base > b.base ? 1 : a.prefix - b.prefix)).map(formatNetwork);
}
