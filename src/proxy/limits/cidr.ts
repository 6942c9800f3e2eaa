/**
 * CIDR lists (`10.0.0.0/8`, `2001:db8::/32`, a bare address, or `all`) and a matcher
 * for client addresses as Node reports them. IPv4-mapped IPv6 addresses
 * (`::ffff:192.0.2.1`, what a dual-stack listener reports for IPv4 clients) match
 * IPv4 ranges. Parsing returns a message instead of throwing, for the config schema.
 */

/** Four 32-bit words of an IPv6 address, most significant first; IPv4 uses word 3 only. */
type Words = [number, number, number, number];

function parseV4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n >>> 0;
}

function hexGroups(h: string): number[] | undefined {
  if (h === '') return [];
  const out: number[] = [];
  for (const g of h.split(':')) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    out.push(parseInt(g, 16));
  }
  return out;
}

function parseV6(s: string): Words | undefined {
  let text = s;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  // An embedded IPv4 address in the last 32 bits becomes two hex groups.
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.indexOf('.', lastColon) >= 0) {
    const v4 = parseV4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = hexGroups(halves[0]!);
  const rest = halves.length === 2 ? hexGroups(halves[1]!) : [];
  if (head === undefined || rest === undefined) return undefined;
  const given = head.length + rest.length;
  let groups: number[];
  if (halves.length === 2) {
    if (given > 7) return undefined;
    groups = [...head];
    while (groups.length + rest.length < 8) groups.push(0);
    groups.push(...rest);
  } else {
    if (given !== 8) return undefined;
    groups = head;
  }
  return [((groups[0]! << 16) | groups[1]!) >>> 0, ((groups[2]! << 16) | groups[3]!) >>> 0, ((groups[4]! << 16) | groups[5]!) >>> 0, ((groups[6]! << 16) | groups[7]!) >>> 0];
}

/** IPv4 of an IPv4-mapped IPv6 address (::ffff:a.b.c.d), else undefined. */
function mappedV4(w: Words): number | undefined {
  return w[0] === 0 && w[1] === 0 && w[2] === 0xffff ? w[3] : undefined;
}

function maskWord(bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return 0xffffffff;
  return (0xffffffff << (32 - bits)) >>> 0;
}

interface V6Range {
  net: Words;
  mask: Words;
}

/** A set of address ranges; `has` answers for one client address. */
export class CidrSet {
  readonly #v4net: number[] = [];
  readonly #v4mask: number[] = [];
  readonly #v6: V6Range[] = [];
  /** The ranges as written, for messages and snapshots. */
  readonly source: readonly string[];

  private constructor(source: readonly string[]) {
    this.source = source;
  }

  static readonly EMPTY = new CidrSet([]);

  get size(): number {
    return this.source.length;
  }

  /** Parses a list; the message of the first bad item (with its index) when one is wrong. */
  static parse(items: readonly string[]): CidrSet | { index: number; message: string } {
    const set = new CidrSet(items);
    for (let i = 0; i < items.length; i++) {
      const err = set.#add(items[i]!.trim());
      if (err !== undefined) return { index: i, message: err };
    }
    return set;
  }

  #add(item: string): string | undefined {
    const expected = `expected an address or CIDR range such as 192.0.2.0/24, 2001:db8::/32 or all, got ${JSON.stringify(item)}`;
    if (item === 'all') {
      this.#v4net.push(0);
      this.#v4mask.push(0);
      this.#v6.push({ net: [0, 0, 0, 0], mask: [0, 0, 0, 0] });
      return undefined;
    }
    const slash = item.indexOf('/');
    const addr = slash < 0 ? item : item.slice(0, slash);
    const bitsText = slash < 0 ? undefined : item.slice(slash + 1);
    if (bitsText !== undefined && !/^\d{1,3}$/.test(bitsText)) return expected;
    const v4 = parseV4(addr);
    if (v4 !== undefined) {
      const bits = bitsText === undefined ? 32 : Number(bitsText);
      if (bits > 32) return `prefix length /${bits} is more than 32 for an IPv4 range in ${JSON.stringify(item)}`;
      const mask = maskWord(bits);
      // Host bits beyond the prefix are ignored, as nginx does (it only warns).
      this.#v4net.push((v4 & mask) >>> 0);
      this.#v4mask.push(mask);
      return undefined;
    }
    const w = parseV6(addr);
    if (w === undefined) return expected;
    const bits = bitsText === undefined ? 128 : Number(bitsText);
    if (bits > 128) return `prefix length /${bits} is more than 128 for an IPv6 range in ${JSON.stringify(item)}`;
    const mask: Words = [maskWord(bits), maskWord(bits - 32), maskWord(bits - 64), maskWord(bits - 96)];
    for (let i = 0; i < 4; i++) w[i] = (w[i]! & mask[i]!) >>> 0;
    const m4 = mappedV4(w);
    if (m4 !== undefined && bits >= 96) {
      // ::ffff:192.0.2.0/120 is the IPv4 range 192.0.2.0/24.
      this.#v4net.push(m4);
      this.#v4mask.push(maskWord(bits - 96));
      return undefined;
    }
    this.#v6.push({ net: w, mask });
    return undefined;
  }

  /** Whether `address` (as Node reports a peer: dotted IPv4 or IPv6 text) is in the set. Unparsable: false. */
  has(address: string): boolean {
    if (this.source.length === 0) return false;
    let v4 = address.indexOf(':') < 0 ? parseV4(address) : undefined;
    let w: Words | undefined;
    if (v4 === undefined) {
      if (address.startsWith('::ffff:') && address.indexOf('.') > 0) v4 = parseV4(address.slice(7));
      else {
        w = parseV6(address);
        if (w === undefined) return false;
        v4 = mappedV4(w);
      }
    }
    if (v4 !== undefined) {
      const nets = this.#v4net;
      const masks = this.#v4mask;
      for (let i = 0; i < nets.length; i++) if ((v4 & masks[i]!) >>> 0 === nets[i]) return true;
      return false;
    }
    for (const r of this.#v6) {
      if ((w![0] & r.mask[0]) >>> 0 === r.net[0] && (w![1] & r.mask[1]) >>> 0 === r.net[1] && (w![2] & r.mask[2]) >>> 0 === r.net[2] && (w![3] & r.mask[3]) >>> 0 === r.net[3]) return true;
    }
    return false;
  }
}

/** Whether `s` is an IPv4 or IPv6 address this module can read. */
export function isAddress(s: string): boolean {
  return parseV4(s) !== undefined || parseV6(s) !== undefined;
}
