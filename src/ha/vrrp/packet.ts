/**
 * VRRP on the wire, IPv4: the advertisement codec of VRRPv3 (RFC 5798 §5) and
 * VRRPv2 (RFC 3768 §5), the IPv4 header around it, and gratuitous ARP.
 *
 * Pure code: bytes in, values out. Sockets belong to the transports.
 *
 * Decoding never throws on what arrives from the network: it returns
 * `{ ok: false, reason, detail }` with a stable `reason` (`DropReason`) so that the
 * daemon can log and count every dropped packet by why it was dropped. Encoding
 * throws `RangeError` / `TypeError` on values it cannot represent: those are bugs
 * in the caller, not traffic.
 *
 * Units: `intervalMs` is milliseconds everywhere in Palisade; on the wire it is
 * centiseconds (v3, 12 bits) or whole seconds (v2, 8 bits).
 */

/** IP protocol number of VRRP (RFC 5798 §5.1.1.4). */
export const VRRP_PROTOCOL = 112;
/** The IPv4 multicast group of VRRP (RFC 5798 §5.1.1.2). */
export const VRRP_MULTICAST_V4 = '224.0.0.18';
/** Every VRRP packet is sent with TTL 255 and received ones must carry it (RFC 5798 §5.1.1.3, §7.1). */
export const VRRP_TTL = 255;
/** Type of service keepalived sends: DSCP CS6, "internetwork control" (IP precedence 6). */
export const VRRP_TOS = 0xc0;
/** The only VRRP packet type (RFC 5798 §5.2.2). */
export const VRRP_TYPE_ADVERTISEMENT = 1;
/** Priority of a master that resigns (RFC 5798 §5.2.4). */
export const PRIORITY_STOP = 0;
/** Priority of the virtual router's address owner (RFC 5798 §5.2.4). */
export const PRIORITY_OWNER = 255;

/** Fixed part of the VRRP header, both versions. */
const HEADER_LENGTH = 8;
/** VRRPv2's authentication data trailer (RFC 3768 §5.3.10). */
const V2_AUTH_LENGTH = 8;
const IPV4_HEADER_LENGTH = 20;
/** v3 Max Adver Int: 12 bits of centiseconds (RFC 5798 §5.2.7). */
const V3_MAX_INTERVAL_CS = 0x0fff;

export type VrrpVersion = 2 | 3;

/**
 * VRRPv2 authentication types (RFC 3768 §5.3.6: 0 none; 1 and 2 reserved, formerly
 * simple text password and IP Authentication Header, RFC 2338). keepalived still
 * sends 1 (`auth_type PASS`) when configured to; Palisade only sends 0.
 */
export const AUTH_NONE = 0;
export const AUTH_SIMPLE_TEXT = 1;
export const AUTH_IP_AH = 2;

/** A decoded VRRP advertisement. */
export interface VrrpAdvert {
  version: VrrpVersion;
  /** Always 1 (advertisement); anything else is dropped with BAD_TYPE. */
  type: number;
  /** Virtual router identifier, 1-255. */
  vrid: number;
  /** 0 (master resigning), 1-254 (backups), 255 (address owner). */
  priority: number;
  /**
   * The interval field as on the wire: v3 Max Adver Int in centiseconds (12 bits),
   * v2 Adver Int in seconds (8 bits).
   */
  interval: number;
  /** The same interval in milliseconds. */
  intervalMs: number;
  /** The virtual IPv4 addresses, dotted quads, in packet order. */
  addresses: string[];
  /** v2 only (0 for v3): the Auth Type field. */
  authType: number;
  /** v2 only (empty for v3): the 8 bytes of Authentication Data. */
  authData: Uint8Array;
  /** The checksum field as received (already verified). */
  checksum: number;
}

/** What `encodeVrrp` needs to build an advertisement. */
export interface VrrpAdvertInput {
  version: VrrpVersion;
  vrid: number;
  priority: number;
  /** Advertisement interval in ms: v3 a multiple of 10 in 10..40950, v2 a multiple of 1000 in 1000..255000. */
  intervalMs: number;
  /** Virtual IPv4 addresses (dotted quads), at most 255. */
  addresses: readonly string[];
  /** v2 only: Auth Type to send; default 0 (none). */
  authType?: number;
  /** v2 only: Authentication Data; default 8 zero bytes. A shorter value is padded with zeros. */
  authData?: Uint8Array;
}

/** The IPv4 addresses that the v3 checksum covers through its pseudo-header. */
export interface PseudoHeader {
  /** Source address of the IPv4 packet. */
  src: string;
  /** Destination address: 224.0.0.18, or the peer's address for unicast. */
  dst: string;
}

/**
 * Why a received packet was dropped. Stable codes: logs and metrics use them.
 *
 * | code | meaning | spec |
 * | --- | --- | --- |
 * | `BAD_IP_HEADER` | not a well-formed, unfragmented IPv4 header (version, IHL, total length, header checksum) | RFC 791 |
 * | `BAD_PROTOCOL` | IP protocol is not 112 | RFC 5798 §5.1.1.4 |
 * | `BAD_TTL` | IP TTL is not 255 (maybe forwarded by a router) | RFC 5798 §7.1 |
 * | `BAD_VERSION` | VRRP version is not 2 or 3, or not the one configured | RFC 5798 §7.1 |
 * | `BAD_TYPE` | not an advertisement (type 1) | RFC 5798 §5.2.2 |
 * | `BAD_LENGTH` | shorter or longer than the header, addresses (and v2 auth data) say | RFC 5798 §7.1 |
 * | `BAD_CHECKSUM` | checksum does not verify (v3 with the IPv4 pseudo-header, v2 without) | RFC 5798 §5.2.8, RFC 3768 §5.3.8 |
 * | `VRID_MISMATCH` | VRID is not the one configured | RFC 5798 §7.1 |
 * | `BAD_AUTH` | v2 Auth Type unknown or not the one configured, or a wrong password | RFC 3768 §7.1 |
 * | `INTERVAL_MISMATCH` | v2 Adver Int differs from the configured one | RFC 3768 §7.1 |
 * | `ADDRESS_MISMATCH` | the address list differs from the configured VIPs | RFC 5798 §7.1 (MAY), keepalived drops |
 */
export type DropReason =
  | 'BAD_IP_HEADER'
  | 'BAD_PROTOCOL'
  | 'BAD_TTL'
  | 'BAD_VERSION'
  | 'BAD_TYPE'
  | 'BAD_LENGTH'
  | 'BAD_CHECKSUM'
  | 'VRID_MISMATCH'
  | 'BAD_AUTH'
  | 'INTERVAL_MISMATCH'
  | 'ADDRESS_MISMATCH';

/** Every drop reason, for pre-registering counters (one label value each). */
export const DROP_REASONS: readonly DropReason[] = [
  'BAD_IP_HEADER',
  'BAD_PROTOCOL',
  'BAD_TTL',
  'BAD_VERSION',
  'BAD_TYPE',
  'BAD_LENGTH',
  'BAD_CHECKSUM',
  'VRID_MISMATCH',
  'BAD_AUTH',
  'INTERVAL_MISMATCH',
  'ADDRESS_MISMATCH',
];

/** A dropped packet: the stable reason and a sentence for the log line. */
export interface Drop {
  ok: false;
  reason: DropReason;
  /** What was wrong, with the values seen, e.g. `checksum 0x42ad, computed 0x42ac`. */
  detail: string;
}

export type DecodeResult = { ok: true; advert: VrrpAdvert } | Drop;

/**
 * What the receiving instance is configured with. Each check runs only when its
 * field is given, so that a caller can decode first and match instances after.
 */
export interface VrrpExpectations {
  /** Drop other versions (BAD_VERSION). */
  version?: VrrpVersion;
  /** Drop other VRIDs (VRID_MISMATCH). */
  vrid?: number;
  /**
   * v2: the configured advertisement interval in ms; a packet with another one is
   * dropped (INTERVAL_MISMATCH, RFC 3768 §7.1). Ignored for v3, where a backup
   * learns the master's interval instead (RFC 5798 §6.4.2).
   */
  intervalMs?: number;
  /**
   * The configured VIPs. A packet whose list is not the same set is dropped
   * (ADDRESS_MISMATCH), as keepalived does; RFC 3768 §7.1 exempts the address owner
   * (priority 255) and so does this check.
   */
  addresses?: readonly string[];
  /**
   * v2 authentication. Absent: Auth Types 0, 1 and 2 are accepted and reported in
   * the advert (higher ones are BAD_AUTH). `{ type: 0 }`: only none.
   * `{ type: 1, password }`: only that simple text password (keepalived `auth_pass`,
   * up to 8 bytes).
   */
  auth?: { type: 0 } | { type: 1; password: string };
}

export interface DecodeOptions {
  /**
   * The IPv4 source and destination of the packet; required to verify a v3
   * checksum (RFC 5798 §5.2.8). Without them a v3 packet is dropped with
   * BAD_CHECKSUM ("no pseudo-header").
   */
  pseudo?: PseudoHeader;
  /**
   * The IP TTL as received (transports that hand over the payload report it).
   * When given, anything but 255 is dropped with BAD_TTL (RFC 5798 §7.1). Leave it
   * out to skip the check, e.g. for unicast peers behind a router (keepalived skips
   * it for unicast too).
   */
  ttl?: number;
  expect?: VrrpExpectations;
}

// ---------------------------------------------------------------------------
// Addresses

/** Parses a dotted-quad IPv4 address into its 32-bit value; undefined when it is not one. */
export function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    if (part.length > 1 && part.startsWith('0')) return undefined; // no octal look-alikes
    const n = Number(part);
    if (n > 255) return undefined;
    v = v * 256 + n;
  }
  return v;
}

function ipv4OrThrow(s: string, what: string): number {
  const v = parseIPv4(s);
  if (v === undefined) throw new TypeError(`${what}: expected an IPv4 address, got ${JSON.stringify(s)}`);
  return v;
}

function formatIPv4(b: Uint8Array, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

function writeIPv4(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/**
 * Orders two IPv4 addresses numerically: negative when `a` < `b`. VRRP breaks
 * priority ties by the higher primary address (RFC 5798 §6.4.3).
 */
export function compareIPv4(a: string, b: string): number {
  return ipv4OrThrow(a, 'compareIPv4') - ipv4OrThrow(b, 'compareIPv4');
}

// ---------------------------------------------------------------------------
// Checksum

/**
 * The Internet checksum (RFC 1071) over `parts`, each summed as if they were one
 * buffer; an odd-length part is padded with a zero byte *at its end*, which is what
 * the pseudo-header + message layout needs (only the last part may be odd in
 * practice). Returns the 16-bit one's complement of the one's complement sum.
 */
export function internetChecksum(...parts: Uint8Array[]): number {
  let sum = 0;
  for (const p of parts) {
    const even = p.length & ~1;
    for (let i = 0; i < even; i += 2) sum += (p[i]! << 8) | p[i + 1]!;
    if (p.length & 1) sum += p[p.length - 1]! << 8;
    // fold now and then so that the sum stays a small integer
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** The IPv4 pseudo-header of the v3 checksum: src, dst, zero, protocol 112, VRRP length (RFC 5798 §5.2.8). */
function pseudoHeader(pseudo: PseudoHeader, vrrpLength: number): Uint8Array {
  const b = new Uint8Array(12);
  writeIPv4(b, 0, ipv4OrThrow(pseudo.src, 'pseudo-header src'));
  writeIPv4(b, 4, ipv4OrThrow(pseudo.dst, 'pseudo-header dst'));
  b[8] = 0;
  b[9] = VRRP_PROTOCOL;
  b[10] = (vrrpLength >>> 8) & 0xff;
  b[11] = vrrpLength & 0xff;
  return b;
}

/**
 * The checksum a VRRP message must carry: v3 over the IPv4 pseudo-header and the
 * message (RFC 5798 §5.2.8), v2 over the message only (RFC 3768 §5.3.8). The
 * checksum field itself is taken as zero.
 */
export function vrrpChecksum(message: Uint8Array, version: VrrpVersion, pseudo?: PseudoHeader): number {
  // a copy: Buffer#slice would be a view and zeroing it would change the caller's bytes
  const zeroed = new Uint8Array(message);
  zeroed[6] = 0;
  zeroed[7] = 0;
  if (version === 2) return internetChecksum(zeroed);
  if (!pseudo) throw new TypeError('a VRRPv3 checksum needs the IPv4 source and destination (pseudo-header)');
  return internetChecksum(pseudoHeader(pseudo, message.length), zeroed);
}

// ---------------------------------------------------------------------------
// Intervals

/** The interval field for `intervalMs`, or a message saying why it cannot be sent. */
export function intervalField(version: VrrpVersion, intervalMs: number): number | string {
  if (version === 3) {
    if (!Number.isInteger(intervalMs) || intervalMs % 10 !== 0) return `a VRRPv3 interval is whole centiseconds (10ms steps), got ${intervalMs}ms`;
    const cs = intervalMs / 10;
    if (cs < 1 || cs > V3_MAX_INTERVAL_CS) return `a VRRPv3 interval is 10ms to 40.95s, got ${intervalMs}ms`;
    return cs;
  }
  if (!Number.isInteger(intervalMs) || intervalMs % 1000 !== 0) return `a VRRPv2 interval is whole seconds, got ${intervalMs}ms`;
  const s = intervalMs / 1000;
  if (s < 1 || s > 255) return `a VRRPv2 interval is 1s to 255s, got ${intervalMs}ms`;
  return s;
}

function intervalMsOf(version: VrrpVersion, field: number): number {
  return version === 3 ? field * 10 : field * 1000;
}

// ---------------------------------------------------------------------------
// VRRP message

/** Length of a VRRP message with `count` IPv4 addresses. */
export function messageLength(version: VrrpVersion, count: number): number {
  return HEADER_LENGTH + 4 * count + (version === 2 ? V2_AUTH_LENGTH : 0);
}

/**
 * Encodes a VRRP advertisement (the IP payload), checksum included. v3 needs the
 * IPv4 source and destination for its checksum; v2 ignores them.
 *
 * Layout (RFC 5798 §5.1 / RFC 3768 §5.1):
 * ```
 *  0: version(4) type(4) | 1: VRID | 2: priority | 3: count IPv4 addrs
 *  4: v3: rsvd(4) max adver int(12, cs)  ·  v2: auth type(8) adver int(8, s)
 *  6: checksum | 8: addresses, 4 bytes each | v2: 8 bytes of auth data
 * ```
 */
export function encodeVrrp(advert: VrrpAdvertInput, pseudo?: PseudoHeader): Uint8Array {
  const { version, vrid, priority, addresses } = advert;
  if (version !== 2 && version !== 3) throw new RangeError(`VRRP version must be 2 or 3, got ${String(version)}`);
  if (!Number.isInteger(vrid) || vrid < 1 || vrid > 255) throw new RangeError(`VRID must be 1-255, got ${vrid}`);
  if (!Number.isInteger(priority) || priority < 0 || priority > 255) throw new RangeError(`priority must be 0-255, got ${priority}`);
  if (addresses.length > 255) throw new RangeError(`at most 255 addresses fit in an advertisement, got ${addresses.length}`);
  const interval = intervalField(version, advert.intervalMs);
  if (typeof interval === 'string') throw new RangeError(interval);

  const b = new Uint8Array(messageLength(version, addresses.length));
  b[0] = (version << 4) | VRRP_TYPE_ADVERTISEMENT;
  b[1] = vrid;
  b[2] = priority;
  b[3] = addresses.length;
  if (version === 3) {
    // RFC 5798 §5.2.6: the 4 reserved bits are sent as zero
    b[4] = (interval >>> 8) & 0x0f;
    b[5] = interval & 0xff;
  } else {
    const authType = advert.authType ?? AUTH_NONE;
    if (!Number.isInteger(authType) || authType < 0 || authType > 255) throw new RangeError(`auth type must be 0-255, got ${authType}`);
    b[4] = authType;
    b[5] = interval;
  }
  addresses.forEach((a, i) => writeIPv4(b, HEADER_LENGTH + 4 * i, ipv4OrThrow(a, `addresses[${i}]`)));
  if (version === 2 && advert.authData) {
    if (advert.authData.length > V2_AUTH_LENGTH) throw new RangeError(`auth data is at most 8 bytes, got ${advert.authData.length}`);
    b.set(advert.authData, HEADER_LENGTH + 4 * addresses.length);
  }
  const sum = vrrpChecksum(b, version, pseudo);
  b[6] = sum >>> 8;
  b[7] = sum & 0xff;
  return b;
}

function drop(reason: DropReason, detail: string): Drop {
  return { ok: false, reason, detail };
}

const hex16 = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;

/** The simple text password as keepalived puts it on the wire: 8 bytes, zero-padded, longer ones cut. */
export function passwordAuthData(password: string): Uint8Array {
  const out = new Uint8Array(V2_AUTH_LENGTH);
  out.set(new TextEncoder().encode(password).subarray(0, V2_AUTH_LENGTH));
  return out;
}

/**
 * Decodes and checks a VRRP message (the IP payload). Checks run in the order of
 * RFC 5798 §7.1 / RFC 3768 §7.1: TTL (when given), version, type, length,
 * checksum, VRID, then (v2) authentication and interval, then the address list.
 *
 * A transport that hands over `(payload, { src, dst, ttl })` calls
 * `decodeVrrp(payload, { pseudo: { src, dst }, ttl, expect })`.
 */
export function decodeVrrp(buf: Uint8Array, opts: DecodeOptions = {}): DecodeResult {
  const expect = opts.expect ?? {};
  // RFC 5798 §7.1: MUST verify that the IP TTL is 255
  if (opts.ttl !== undefined && opts.ttl !== VRRP_TTL) return drop('BAD_TTL', `TTL ${opts.ttl}${opts.pseudo ? ` from ${opts.pseudo.src}` : ''}, expected 255`);
  if (buf.length < HEADER_LENGTH) return drop('BAD_LENGTH', `${buf.length} bytes, shorter than the 8-byte VRRP header`);

  // RFC 5798 §7.1: MUST verify the VRRP version
  const version = buf[0]! >>> 4;
  if (version !== 2 && version !== 3) return drop('BAD_VERSION', `version ${version}, expected 2 or 3`);
  if (expect.version !== undefined && version !== expect.version) return drop('BAD_VERSION', `version ${version}, configured ${expect.version}`);

  // RFC 5798 §5.2.2: type 1 is the only one; others are discarded
  const type = buf[0]! & 0x0f;
  if (type !== VRRP_TYPE_ADVERTISEMENT) return drop('BAD_TYPE', `type ${type}, expected 1 (advertisement)`);

  // RFC 5798 §7.1: MUST verify that the packet holds the complete VRRP message
  const count = buf[3]!;
  const want = messageLength(version, count);
  if (buf.length !== want) return drop('BAD_LENGTH', `${buf.length} bytes, but ${count} address(es) make a VRRPv${version} message of ${want} bytes`);

  // RFC 5798 §5.2.8 / RFC 3768 §5.3.8: MUST verify the checksum
  const checksum = (buf[6]! << 8) | buf[7]!;
  if (version === 3 && !opts.pseudo) return drop('BAD_CHECKSUM', 'a VRRPv3 checksum cannot be verified without the IPv4 source and destination (pseudo-header)');
  const computed = vrrpChecksum(buf, version, opts.pseudo);
  if (computed !== checksum) return drop('BAD_CHECKSUM', `VRRPv${version} checksum ${hex16(checksum)}, computed ${hex16(computed)}`);

  // RFC 5798 §7.1: MUST verify that the VRID is configured on the receiving interface
  const vrid = buf[1]!;
  if (expect.vrid !== undefined && vrid !== expect.vrid) return drop('VRID_MISMATCH', `VRID ${vrid}, configured ${expect.vrid}`);

  const priority = buf[2]!;
  let interval: number;
  let authType = 0;
  let authData: Uint8Array = new Uint8Array(0);
  if (version === 3) {
    // RFC 5798 §5.2.6: reserved bits are ignored on reception
    interval = ((buf[4]! & 0x0f) << 8) | buf[5]!;
  } else {
    authType = buf[4]!;
    interval = buf[5]!;
    authData = new Uint8Array(buf.subarray(HEADER_LENGTH + 4 * count, HEADER_LENGTH + 4 * count + V2_AUTH_LENGTH));
    // RFC 3768 §7.1: MUST verify that the Auth Type matches the locally configured method
    if (authType > AUTH_IP_AH) return drop('BAD_AUTH', `unknown auth type ${authType}`);
    const auth = expect.auth;
    if (auth !== undefined) {
      if (authType !== auth.type) return drop('BAD_AUTH', `auth type ${authType}, configured ${auth.type}`);
      if (auth.type === AUTH_SIMPLE_TEXT && !bytesEqual(authData, passwordAuthData(auth.password))) return drop('BAD_AUTH', 'wrong simple text password');
    }
    // RFC 3768 §7.1: MUST verify that the Adver Interval is the locally configured one
    if (expect.intervalMs !== undefined && interval * 1000 !== expect.intervalMs) {
      return drop('INTERVAL_MISMATCH', `advert interval ${interval}s, configured ${expect.intervalMs / 1000}s`);
    }
  }

  const addresses: string[] = [];
  for (let i = 0; i < count; i++) addresses.push(formatIPv4(buf, HEADER_LENGTH + 4 * i));

  // RFC 5798 §7.1 (MAY verify the addresses; MUST log). RFC 3768 §7.1: drop unless
  // the sender is the owner. keepalived drops on any difference; so does Palisade.
  if (expect.addresses !== undefined && priority !== PRIORITY_OWNER && !sameSet(addresses, expect.addresses)) {
    return drop('ADDRESS_MISMATCH', `addresses [${addresses.join(', ')}], configured [${expect.addresses.join(', ')}]`);
  }

  return {
    ok: true,
    advert: { version, type, vrid, priority, interval, intervalMs: intervalMsOf(version, interval), addresses, authType, authData, checksum },
  };
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(b);
  return a.every((x) => s.has(x));
}

// ---------------------------------------------------------------------------
// IPv4 header

/** The IPv4 header fields that matter to VRRP. */
export interface IPv4Header {
  /** Header length in bytes (IHL × 4). */
  headerLength: number;
  /** Type of service byte (keepalived sends 0xc0). */
  tos: number;
  /** Total length in bytes (header + payload). */
  totalLength: number;
  id: number;
  /** Don't Fragment flag (keepalived leaves it clear). */
  dontFragment: boolean;
  ttl: number;
  protocol: number;
  /** The header checksum as received (already verified). */
  checksum: number;
  src: string;
  dst: string;
}

export interface IPv4HeaderInput {
  src: string;
  dst: string;
  /** Bytes after the 20-byte header. */
  payloadLength: number;
  /** Identification; default 0. keepalived counts up from 1 per instance. */
  id?: number;
  /** Default 255 (RFC 5798 §5.1.1.3). */
  ttl?: number;
  /** Default 0xc0, as keepalived. */
  tos?: number;
  /** Default 112. */
  protocol?: number;
  /** Default false, as keepalived (its packets show `flags [none]`). */
  dontFragment?: boolean;
}

/**
 * Encodes a 20-byte IPv4 header (no options) with its checksum, for a transport
 * that writes whole IP packets (IP_HDRINCL). Defaults match keepalived's adverts:
 * TOS 0xc0, TTL 255, protocol 112, no DF.
 */
export function encodeIPv4Header(h: IPv4HeaderInput): Uint8Array {
  const total = IPV4_HEADER_LENGTH + h.payloadLength;
  if (!Number.isInteger(h.payloadLength) || h.payloadLength < 0 || total > 0xffff) throw new RangeError(`payload length must be 0-65515, got ${h.payloadLength}`);
  const id = h.id ?? 0;
  if (!Number.isInteger(id) || id < 0 || id > 0xffff) throw new RangeError(`IP id must be 0-65535, got ${id}`);
  const b = new Uint8Array(IPV4_HEADER_LENGTH);
  b[0] = 0x45; // version 4, IHL 5
  b[1] = h.tos ?? VRRP_TOS;
  b[2] = total >>> 8;
  b[3] = total & 0xff;
  b[4] = id >>> 8;
  b[5] = id & 0xff;
  b[6] = h.dontFragment ? 0x40 : 0;
  b[7] = 0;
  b[8] = h.ttl ?? VRRP_TTL;
  b[9] = h.protocol ?? VRRP_PROTOCOL;
  writeIPv4(b, 12, ipv4OrThrow(h.src, 'IPv4 src'));
  writeIPv4(b, 16, ipv4OrThrow(h.dst, 'IPv4 dst'));
  const sum = internetChecksum(b);
  b[10] = sum >>> 8;
  b[11] = sum & 0xff;
  return b;
}

/** An IPv4 packet carrying a VRRP advertisement: header + message, checksums filled in. */
export function encodeVrrpPacket(advert: VrrpAdvertInput, ip: { src: string; dst: string; id?: number }): Uint8Array {
  const message = encodeVrrp(advert, ip);
  const header = encodeIPv4Header({ src: ip.src, dst: ip.dst, payloadLength: message.length, ...(ip.id === undefined ? {} : { id: ip.id }) });
  const out = new Uint8Array(header.length + message.length);
  out.set(header, 0);
  out.set(message, header.length);
  return out;
}

export type IPv4DecodeResult = { ok: true; ip: IPv4Header; payload: Uint8Array } | Drop;

/**
 * Parses and checks an IPv4 header: version 4, IHL ≥ 5, total length within the
 * buffer, no fragment, header checksum. Trailing bytes past the total length
 * (Ethernet padding) are ignored. `payload` is a view, not a copy.
 */
export function decodeIPv4(buf: Uint8Array): IPv4DecodeResult {
  if (buf.length < IPV4_HEADER_LENGTH) return drop('BAD_IP_HEADER', `${buf.length} bytes, shorter than an IPv4 header`);
  const version = buf[0]! >>> 4;
  if (version !== 4) return drop('BAD_IP_HEADER', `IP version ${version}, expected 4`);
  const headerLength = (buf[0]! & 0x0f) * 4;
  if (headerLength < IPV4_HEADER_LENGTH) return drop('BAD_IP_HEADER', `IHL ${headerLength / 4}, at least 5 expected`);
  const totalLength = (buf[2]! << 8) | buf[3]!;
  if (totalLength < headerLength || totalLength > buf.length) return drop('BAD_IP_HEADER', `total length ${totalLength} does not fit the ${buf.length} bytes received with a ${headerLength}-byte header`);
  const flagsFrag = (buf[6]! << 8) | buf[7]!;
  if ((flagsFrag & 0x2000) !== 0 || (flagsFrag & 0x1fff) !== 0) return drop('BAD_IP_HEADER', 'a fragment (VRRP is never fragmented)');
  const header = buf.subarray(0, headerLength);
  if (internetChecksum(header) !== 0) return drop('BAD_IP_HEADER', 'IPv4 header checksum does not verify');
  return {
    ok: true,
    ip: {
      headerLength,
      tos: buf[1]!,
      totalLength,
      id: (buf[4]! << 8) | buf[5]!,
      dontFragment: (flagsFrag & 0x4000) !== 0,
      ttl: buf[8]!,
      protocol: buf[9]!,
      checksum: (buf[10]! << 8) | buf[11]!,
      src: formatIPv4(buf, 12),
      dst: formatIPv4(buf, 16),
    },
    payload: buf.subarray(headerLength, totalLength),
  };
}

export interface PacketDecodeOptions {
  expect?: VrrpExpectations;
  /**
   * Require TTL 255 (RFC 5798 §7.1). Default true. keepalived skips this check for
   * unicast peers (a routed unicast path lowers the TTL); a unicast transport may
   * pass false.
   */
  checkTtl?: boolean;
}

export type PacketDecodeResult = { ok: true; ip: IPv4Header; advert: VrrpAdvert } | Drop;

/**
 * Decodes a whole IPv4 packet carrying VRRP, as a raw socket for protocol 112
 * returns it: checks the IP header, protocol 112 and TTL 255, then the VRRP message
 * with the packet's own addresses as the v3 pseudo-header.
 */
export function decodeVrrpPacket(buf: Uint8Array, opts: PacketDecodeOptions = {}): PacketDecodeResult {
  const ipr = decodeIPv4(buf);
  if (!ipr.ok) return ipr;
  const { ip, payload } = ipr;
  if (ip.protocol !== VRRP_PROTOCOL) return drop('BAD_PROTOCOL', `IP protocol ${ip.protocol}, expected 112`);
  const r = decodeVrrp(payload, {
    pseudo: { src: ip.src, dst: ip.dst },
    ...((opts.checkTtl ?? true) ? { ttl: ip.ttl } : {}),
    ...(opts.expect === undefined ? {} : { expect: opts.expect }),
  });
  if (!r.ok) return r;
  return { ok: true, ip, advert: r.advert };
}

// ---------------------------------------------------------------------------
// Gratuitous ARP

/** An ARP packet for IPv4 over Ethernet (RFC 826). */
export interface ArpPacket {
  /** 1 = request, 2 = reply. */
  op: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

/** An Ethernet II frame's header and payload. */
export interface EthernetFrame {
  dst: string;
  src: string;
  etherType: number;
  payload: Uint8Array;
}

const ETHERTYPE_ARP = 0x0806;
const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';

function formatMac(b: Uint8Array, at: number): string {
  return Array.from(b.subarray(at, at + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

function writeMac(b: Uint8Array, at: number, mac: string): void {
  const parts = mac.split(':');
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) throw new TypeError(`expected a MAC address such as 02:00:00:00:00:01, got ${JSON.stringify(mac)}`);
  parts.forEach((p, i) => (b[at + i] = parseInt(p, 16)));
}

/** Splits an Ethernet II frame (no VLAN tag); undefined when shorter than its header. */
export function parseEthernet(buf: Uint8Array): EthernetFrame | undefined {
  if (buf.length < 14) return undefined;
  return { dst: formatMac(buf, 0), src: formatMac(buf, 6), etherType: (buf[12]! << 8) | buf[13]!, payload: buf.subarray(14) };
}

/** Parses an Ethernet/IPv4 ARP packet (28 bytes); undefined when it is not one. */
export function parseArp(buf: Uint8Array): ArpPacket | undefined {
  if (buf.length < 28) return undefined;
  const htype = (buf[0]! << 8) | buf[1]!;
  const ptype = (buf[2]! << 8) | buf[3]!;
  if (htype !== 1 || ptype !== 0x0800 || buf[4] !== 6 || buf[5] !== 4) return undefined;
  return {
    op: (buf[6]! << 8) | buf[7]!,
    senderMac: formatMac(buf, 8),
    senderIp: formatIPv4(buf, 14),
    targetMac: formatMac(buf, 18),
    targetIp: formatIPv4(buf, 24),
  };
}

/**
 * A gratuitous ARP as a whole Ethernet frame (42 bytes, unpadded): a broadcast
 * request "who-has VIP tell VIP" from `mac`, target hardware address all ones —
 * what keepalived and `arping -U` send so that hosts and switches learn the VIP's
 * new place at once (without it a client stayed cut off ~34 s in our lab).
 */
export function encodeGratuitousArp(mac: string, ip: string): Uint8Array {
  const b = new Uint8Array(42);
  writeMac(b, 0, BROADCAST_MAC);
  writeMac(b, 6, mac);
  b[12] = ETHERTYPE_ARP >>> 8;
  b[13] = ETHERTYPE_ARP & 0xff;
  const a = 14;
  b[a + 1] = 1; // htype Ethernet
  b[a + 2] = 0x08; // ptype IPv4
  b[a + 4] = 6;
  b[a + 5] = 4;
  b[a + 7] = 1; // request
  writeMac(b, a + 8, mac);
  writeIPv4(b, a + 14, ipv4OrThrow(ip, 'gratuitous ARP address'));
  writeMac(b, a + 18, BROADCAST_MAC);
  writeIPv4(b, a + 24, ipv4OrThrow(ip, 'gratuitous ARP address'));
  return b;
}
