/**
 * The PROXY protocol (HAProxy's "The PROXY protocol", versions 1 and 2): a header
 * sent before the first byte of a connection that carries the original client's
 * address. Pure encoder and parser; the caller owns the sockets.
 *
 * Section numbers below are those of the spec (haproxy/doc/proxy-protocol.txt).
 */
import { isIP } from 'node:net';

/** §2.2: the 12-byte v2 signature. */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** §2.1: a v1 header is at most 107 bytes, CRLF included. */
export const V1_MAX = 107;
/** Our cap on a v2 header (16-byte fixed part + addresses + TLVs); the spec allows up to 16 + 65535, HAProxy's default buffer less. */
export const V2_MAX = 4096;

export type ProxyTransport = 'tcp4' | 'tcp6' | 'udp4' | 'udp6' | 'unknown';

export interface ProxyAddress {
  readonly address: string;
  readonly port: number;
}

export interface ProxyTlv {
  readonly type: number;
  readonly value: Buffer;
}

export interface ProxyHeader {
  readonly version: 1 | 2;
  /** `local`: a connection of the front itself (health check); its addresses are to be ignored (§2.2). */
  readonly command: 'proxy' | 'local';
  readonly transport: ProxyTransport;
  /** The client, for `proxy` over tcp/udp 4/6; undefined otherwise. */
  readonly source: ProxyAddress | undefined;
  /** The address the client connected to. */
  readonly destination: ProxyAddress | undefined;
  /** v2 TLVs, in order (§2.2.7); empty for v1. */
  readonly tlvs: readonly ProxyTlv[];
}

export type ParseResult =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'error'; readonly reason: string }
  | { readonly kind: 'ok'; readonly header: ProxyHeader; /** Bytes the header took; the rest is the client's payload. */ readonly length: number };

const INCOMPLETE: ParseResult = { kind: 'incomplete' };

function error(reason: string): ParseResult {
  return { kind: 'error', reason };
}

/** True while `buf` could still become `sig` (a prefix of it, or it). */
function prefixOf(buf: Buffer, sig: Buffer): boolean {
  const n = Math.min(buf.length, sig.length);
  return buf.subarray(0, n).equals(sig.subarray(0, n));
}

/**
 * Parses a PROXY header (v1 or v2) at the start of `buf`. `incomplete` means: read
 * more and call again with everything received so far; `error`: close the
 * connection (§2: a receiver must not try to guess).
 */
export function parseProxyHeader(buf: Buffer): ParseResult {
  if (buf.length === 0) return INCOMPLETE;
  if (buf[0] === 0x0d) {
    if (!prefixOf(buf, V2_SIGNATURE)) return error('not a PROXY protocol header (bad v2 signature)');
    return parseV2(buf);
  }
  if (!prefixOf(buf, V1_PREFIX)) return error('not a PROXY protocol header');
  return parseV1(buf);
}

const PORT = /^(0|[1-9]\d{0,4})$/;

function parseV1(buf: Buffer): ParseResult {
  const limit = Math.min(buf.length, V1_MAX);
  let lf = -1;
  for (let i = 0; i < limit; i++) {
    if (buf[i] === 0x0a) {
      lf = i;
      break;
    }
  }
  if (lf < 0) return buf.length >= V1_MAX ? error('v1 header longer than 107 bytes') : INCOMPLETE;
  if (lf === 0 || buf[lf - 1] !== 0x0d) return error('v1 header not ended by CRLF');
  const line = buf.toString('latin1', 0, lf - 1);
  const f = line.split(' ');
  // §2.1: "PROXY" SP proto SP src SP dst SP sport SP dport CRLF, or "PROXY UNKNOWN" and anything up to CRLF.
  if (f[1] === 'UNKNOWN') return { kind: 'ok', length: lf + 1, header: { version: 1, command: 'proxy', transport: 'unknown', source: undefined, destination: undefined, tlvs: [] } };
  if (f.length !== 6) return error(`v1 header with ${f.length} fields, expected 6`);
  const proto = f[1];
  if (proto !== 'TCP4' && proto !== 'TCP6') return error(`v1 protocol ${JSON.stringify(proto)}, expected TCP4, TCP6 or UNKNOWN`);
  const family = proto === 'TCP4' ? 4 : 6;
  const [, , src, dst, sp, dp] = f as [string, string, string, string, string, string];
  if (isIP(src) !== family || isIP(dst) !== family) return error(`v1 addresses are not ${proto} addresses`);
  if (!PORT.test(sp) || !PORT.test(dp) || Number(sp) > 65535 || Number(dp) > 65535) return error('v1 port is not a number from 0 to 65535');
  return {
    kind: 'ok',
    length: lf + 1,
    header: { version: 1, command: 'proxy', transport: family === 4 ? 'tcp4' : 'tcp6', source: { address: src, port: Number(sp) }, destination: { address: dst, port: Number(dp) }, tlvs: [] },
  };
}

function ipv6Text(buf: Buffer, at: number): string {
  let s = '';
  for (let i = 0; i < 8; i++) s += (i > 0 ? ':' : '') + buf.readUInt16BE(at + i * 2).toString(16);
  // Canonical form (compressed zeros), as Node reports addresses.
  return new URL(`http://[${s}]`).hostname.slice(1, -1);
}

function parseV2(buf: Buffer): ParseResult {
  if (buf.length < 16) return INCOMPLETE;
  const verCmd = buf[12]!;
  // §2.2: the highest four bits are the version (2), the lowest the command.
  if (verCmd >> 4 !== 2) return error(`v2 version ${verCmd >> 4}, expected 2`);
  const cmd = verCmd & 0x0f;
  if (cmd > 1) return error(`v2 command ${cmd}, expected LOCAL (0) or PROXY (1)`);
  const famProto = buf[13]!;
  const len = buf.readUInt16BE(14);
  if (16 + len > V2_MAX) return error(`v2 header of ${16 + len} bytes, more than ${V2_MAX}`);
  if (buf.length < 16 + len) return INCOMPLETE;
  const end = 16 + len;
  const fam = famProto >> 4;
  const proto = famProto & 0x0f;
  if (fam > 3 || proto > 2) return error(`v2 address family/protocol 0x${famProto.toString(16)} is not defined`);
  // §2.2: address block sizes by family.
  const addrLen = fam === 1 ? 12 : fam === 2 ? 36 : fam === 3 ? 216 : 0;
  if (len < addrLen) return error(`v2 address block of ${len} bytes, the family needs ${addrLen}`);
  let transport: ProxyTransport = 'unknown';
  let source: ProxyAddress | undefined;
  let destination: ProxyAddress | undefined;
  if ((fam === 1 || fam === 2) && proto !== 0) {
    transport = `${proto === 1 ? 'tcp' : 'udp'}${fam === 1 ? '4' : '6'}` as ProxyTransport;
    if (fam === 1) {
      source = { address: `${buf[16]}.${buf[17]}.${buf[18]}.${buf[19]}`, port: buf.readUInt16BE(24) };
      destination = { address: `${buf[20]}.${buf[21]}.${buf[22]}.${buf[23]}`, port: buf.readUInt16BE(26) };
    } else {
      source = { address: ipv6Text(buf, 16), port: buf.readUInt16BE(48) };
      destination = { address: ipv6Text(buf, 32), port: buf.readUInt16BE(50) };
    }
  }
  // §2.2.7: TLVs fill the rest: type (1), length (2, big-endian), value.
  const tlvs: ProxyTlv[] = [];
  let at = 16 + addrLen;
  while (at < end) {
    if (at + 3 > end) return error('v2 TLV truncated');
    const type = buf[at]!;
    const l = buf.readUInt16BE(at + 1);
    if (at + 3 + l > end) return error(`v2 TLV 0x${type.toString(16)} of ${l} bytes overruns the header`);
    tlvs.push({ type, value: Buffer.from(buf.subarray(at + 3, at + 3 + l)) });
    at += 3 + l;
  }
  const local = cmd === 0;
  return {
    kind: 'ok',
    length: end,
    // §2.2: with LOCAL the receiver must ignore the address information.
    header: { version: 2, command: local ? 'local' : 'proxy', transport: local ? 'unknown' : transport, source: local ? undefined : source, destination: local ? undefined : destination, tlvs },
  };
}

function familyOf(a: ProxyAddress, b: ProxyAddress): 4 | 6 | 0 {
  const fa = isIP(a.address);
  const fb = isIP(b.address);
  return fa === fb && fa !== 0 ? (fa as 4 | 6) : 0;
}

/** Strips `::ffff:` from an IPv4-mapped IPv6 address (how Node reports IPv4 clients on a dual-stack socket). */
export function unmapV4(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** §2.1: a v1 header for a TCP connection from `src` to `dst`; `PROXY UNKNOWN` when their families differ. */
export function encodeV1(src: ProxyAddress, dst: ProxyAddress): Buffer {
  const s = { address: unmapV4(src.address), port: src.port };
  const d = { address: unmapV4(dst.address), port: dst.port };
  const fam = familyOf(s, d);
  if (fam === 0) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  return Buffer.from(`PROXY TCP${fam} ${s.address} ${d.address} ${s.port} ${d.port}\r\n`, 'latin1');
}

function hexWords(x: string): number[] {
  return x === '' ? [] : x.split(':').map((w) => Number.parseInt(w, 16));
}

/** The eight 16-bit words of an IPv6 address (validated by the caller with isIP). */
export function v6Words(address: string): number[] {
  let a = address;
  let v4: [number, number] | undefined;
  if (a.includes('.')) {
    // An embedded dotted quad (::ffff:192.0.2.1) fills the last two words.
    const i = a.lastIndexOf(':');
    const q = a.slice(i + 1).split('.').map(Number);
    v4 = [(q[0]! << 8) | q[1]!, (q[2]! << 8) | q[3]!];
    a = `${a.slice(0, i + 1)}0:0`;
  }
  const dbl = a.indexOf('::');
  let words: number[];
  if (dbl < 0) words = hexWords(a);
  else {
    const h = hexWords(a.slice(0, dbl));
    const t = hexWords(a.slice(dbl + 2));
    words = [...h, ...Array.from({ length: 8 - h.length - t.length }, () => 0), ...t];
  }
  if (v4 !== undefined) {
    words[6] = v4[0];
    words[7] = v4[1];
  }
  return words;
}

function writeV6(out: Buffer, at: number, address: string): void {
  const words = v6Words(address);
  for (let i = 0; i < 8; i++) out.writeUInt16BE(words[i] ?? 0, at + i * 2);
}

/**
 * §2.2: a v2 header. `src`/`dst` undefined (or of different families) gives the
 * LOCAL-free form "PROXY, UNSPEC" with no addresses; `local` gives a LOCAL command.
 */
export function encodeV2(src: ProxyAddress | undefined, dst: ProxyAddress | undefined, opts: { transport?: 'tcp' | 'udp'; local?: boolean; tlvs?: readonly ProxyTlv[] } = {}): Buffer {
  const s = src === undefined ? undefined : { address: unmapV4(src.address), port: src.port };
  const d = dst === undefined ? undefined : { address: unmapV4(dst.address), port: dst.port };
  const fam = s !== undefined && d !== undefined && opts.local !== true ? familyOf(s, d) : 0;
  const addrLen = fam === 4 ? 12 : fam === 6 ? 36 : 0;
  let tlvLen = 0;
  for (const t of opts.tlvs ?? []) tlvLen += 3 + t.value.length;
  const out = Buffer.alloc(16 + addrLen + tlvLen);
  V2_SIGNATURE.copy(out, 0);
  out[12] = 0x20 | (opts.local === true ? 0 : 1);
  const proto = opts.transport === 'udp' ? 2 : 1;
  out[13] = fam === 4 ? 0x10 | proto : fam === 6 ? 0x20 | proto : 0x00;
  out.writeUInt16BE(addrLen + tlvLen, 14);
  if (fam === 4) {
    const sa = s!.address.split('.').map(Number);
    const da = d!.address.split('.').map(Number);
    for (let i = 0; i < 4; i++) {
      out[16 + i] = sa[i]!;
      out[20 + i] = da[i]!;
    }
    out.writeUInt16BE(s!.port, 24);
    out.writeUInt16BE(d!.port, 26);
  } else if (fam === 6) {
    writeV6(out, 16, s!.address);
    writeV6(out, 32, d!.address);
    out.writeUInt16BE(s!.port, 48);
    out.writeUInt16BE(d!.port, 50);
  }
  let at = 16 + addrLen;
  for (const t of opts.tlvs ?? []) {
    out[at] = t.type;
    out.writeUInt16BE(t.value.length, at + 1);
    t.value.copy(out, at + 3);
    at += 3 + t.value.length;
  }
  return out;
}
