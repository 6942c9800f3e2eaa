/**
 * Hash functions and address parsing for the hashing schedulers. Everything here
 * works on strings by char code, without allocating, because it runs on every pick.
 */

// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as nginx's ngx_crc32_*.
const CRC_TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[n] = c;
}

/** Initial CRC-32 state (ngx_crc32_init). */
export const CRC32_INIT = 0xffffffff;

export function crc32Byte(crc: number, byte: number): number {
  return CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
}

/** Feeds a string's UTF-8 bytes into a CRC-32 state, encoding on the fly. */
export function crc32String(crc: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      crc = crc32Byte(crc, c);
      continue;
    }
    if (c < 0x800) {
      crc = crc32Byte(crc32Byte(crc, 0xc0 | (c >>> 6)), 0x80 | (c & 0x3f));
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        crc = crc32Byte(crc, 0xf0 | (c >>> 18));
        crc = crc32Byte(crc, 0x80 | ((c >>> 12) & 0x3f));
        crc = crc32Byte(crc, 0x80 | ((c >>> 6) & 0x3f));
        crc = crc32Byte(crc, 0x80 | (c & 0x3f));
        continue;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // lone surrogate, as TextEncoder
    crc = crc32Byte(crc, 0xe0 | (c >>> 12));
    crc = crc32Byte(crc, 0x80 | ((c >>> 6) & 0x3f));
    crc = crc32Byte(crc, 0x80 | (c & 0x3f));
  }
  return crc;
}

/** Feeds the decimal digits of a non-negative integer (nginx's `%ui` in the rehash of `hash`). */
export function crc32Decimal(crc: number, n: number): number {
  let div = 1;
  while (div * 10 <= n) div *= 10;
  for (; div >= 1; div = Math.floor(div / 10)) crc = crc32Byte(crc, 48 + (Math.floor(n / div) % 10));
  return crc;
}

/** Feeds a 32-bit value as 4 little-endian bytes (ketama's `prev_hash` on x86). */
export function crc32Uint32LE(crc: number, v: number): number {
  crc = crc32Byte(crc, v & 0xff);
  crc = crc32Byte(crc, (v >>> 8) & 0xff);
  crc = crc32Byte(crc, (v >>> 16) & 0xff);
  return crc32Byte(crc, (v >>> 24) & 0xff);
}

/** Final CRC-32 value, unsigned (ngx_crc32_final). */
export function crc32Final(crc: number): number {
  return (crc ^ 0xffffffff) >>> 0;
}

/** CRC-32 of a string's UTF-8 bytes (ngx_crc32_long). */
export function crc32(s: string): number {
  return crc32Final(crc32String(CRC32_INIT, s));
}

/** The kernel's hash_32(): multiply by the 32-bit golden ratio, keep the top `bits` (include/linux/hash.h). */
export function hash32(v: number, bits: number): number {
  return Math.imul(v, 0x61c88647) >>> (32 - bits);
}

/** FNV-1a over a string's UTF-16 code units, from a seed; unsigned 32-bit. */
export function fnv1a(s: string, seed = 0x811c9dc5, start = 0, end = s.length): number {
  let h = seed >>> 0;
  for (let i = start; i < end; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** MurmurHash3's 32-bit finalizer: a bijection that spreads every input bit. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

// ---- addresses -------------------------------------------------------------

/** Parses s[start, end) as a dotted-quad IPv4 address; the address as an unsigned 32-bit number, or -1. */
export function parseIPv4(s: string, start = 0, end = s.length): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1; // leading zero
      octet = octet * 10 + (c - 48);
      if (octet > 255 || ++digits > 3) return -1;
    } else if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + octet;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Parses s[start, end) as IPv6 text (with `::`, an embedded IPv4 tail, a `%zone`)
 * into eight 16-bit words; false when it is not one.
 */
export function parseIPv6(s: string, out: Uint16Array, start = 0, end = s.length): boolean {
  const zone = s.indexOf('%', start);
  if (zone >= 0 && zone < end) end = zone;
  let w = 0;
  let gap = -1;
  let i = start;
  if (end - start < 2) return false;
  if (s.charCodeAt(i) === 58) {
    if (s.charCodeAt(i + 1) !== 58) return false;
    gap = 0;
    i += 2;
    if (i === end) {
      out.fill(0);
      return true;
    }
  }
  while (i < end) {
    if (w === 8) return false;
    // An IPv4 tail?
    let j = i;
    let isV4 = false;
    while (j < end && s.charCodeAt(j) !== 58) {
      if (s.charCodeAt(j) === 46) isV4 = true;
      j++;
    }
    if (isV4) {
      if (j !== end || w > 6) return false;
      const v4 = parseIPv4(s, i, end);
      if (v4 < 0) return false;
      out[w++] = v4 >>> 16;
      out[w++] = v4 & 0xffff;
      i = end;
      break;
    }
    if (j - i < 1 || j - i > 4) return false;
    let v = 0;
    for (let k = i; k < j; k++) {
      const h = hexValue(s.charCodeAt(k));
      if (h < 0) return false;
      v = v * 16 + h;
    }
    out[w++] = v;
    i = j;
    if (i < end) {
      // at a ':'
      if (i + 1 < end && s.charCodeAt(i + 1) === 58) {
        if (gap >= 0) return false;
        gap = w;
        i += 2;
      } else {
        i += 1;
        if (i === end) return false;
      }
    }
  }
  if (gap < 0) return w === 8;
  if (w === 8) return false;
  // Move the words after the gap to the end, zero the gap.
  const tail = w - gap;
  for (let k = 0; k < tail; k++) out[7 - k] = out[w - 1 - k]!;
  for (let k = gap; k < 8 - tail; k++) out[k] = 0;
  return true;
}

/** True for ::ffff:a.b.c.d (the words parsed into `v6`). */
export function isV4Mapped(v6: Uint16Array): boolean {
  return v6[0] === 0 && v6[1] === 0 && v6[2] === 0 && v6[3] === 0 && v6[4] === 0 && v6[5] === 0xffff;
}

const scratch = new Uint16Array(8);

/** The bounds of the address part of `host`, `host:port`, `[v6]:port` or a bare IPv6 address. */
function addressBounds(s: string): { start: number; end: number } {
  if (s.charCodeAt(0) === 91) {
    const close = s.indexOf(']');
    return BOUNDS.set(1, close < 0 ? s.length : close);
  }
  const colon = s.indexOf(':');
  if (colon >= 0 && s.indexOf(':', colon + 1) < 0) return BOUNDS.set(0, colon);
  return BOUNDS.set(0, s.length);
}

// One reused result object, so that addressBounds allocates nothing.
const BOUNDS = {
  start: 0,
  end: 0,
  set(start: number, end: number) {
    this.start = start;
    this.end = end;
    return this;
  },
};

/**
 * Folds an address to 32 bits as the kernel's schedulers do: IPv4 as is (an
 * IPv4-mapped IPv6 address counts as its IPv4 address), IPv6 as the XOR of its
 * four 32-bit words (ip_vs_sh_hashkey, ip_vs_dh_hashkey); anything else (a host
 * name) as FNV-1a of the text. Accepts `addr`, `addr:port`, `[v6]:port`.
 */
export function foldAddress(text: string): number {
  const { start, end } = addressBounds(text);
  const v4 = parseIPv4(text, start, end);
  if (v4 >= 0) return v4;
  if (parseIPv6(text, scratch, start, end)) {
    if (isV4Mapped(scratch)) return ((scratch[6]! << 16) | scratch[7]!) >>> 0;
    let f = 0;
    for (let k = 0; k < 8; k += 2) f ^= (scratch[k]! << 16) | scratch[k + 1]!;
    return f >>> 0;
  }
  return fnv1a(text, 0x811c9dc5, start, end);
}

/** Greatest common divisor of two non-negative integers. */
export function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/** True when n is a prime (trial division; n up to a few million). */
export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}
