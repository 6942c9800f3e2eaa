/**
 * The VRRP codec against keepalived's own packets (golden vectors captured with
 * tcpdump, /work/shared/vectors/vrrp) and against every way a packet is dropped.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  DROP_REASONS,
  compareIPv4,
  decodeIPv4,
  decodeVrrp,
  decodeVrrpPacket,
  encodeGratuitousArp,
  encodeIPv4Header,
  encodeVrrp,
  encodeVrrpPacket,
  internetChecksum,
  intervalField,
  parseArp,
  parseEthernet,
  parseIPv4,
  passwordAuthData,
  vrrpChecksum,
  type DropReason,
  type VrrpAdvertInput,
} from './packet.ts';

const repoRoot = join(import.meta.dirname, '..', '..', '..');
const vectorsDir = join(repoRoot, '..', 'shared', 'vectors', 'vrrp');

/** The bytes of a tcpdump `-xx` dump: the hex groups after each `0xNNNN:` offset. */
function parseTcpdumpHex(text: string): Buffer {
  let hex = '';
  for (const line of text.split('\n')) {
    const m = /^\s*0x[0-9a-f]{4}:\s+(.*)$/.exec(line);
    if (!m) continue;
    // hex groups, then two spaces, then the ASCII column
    hex += m[1]!.split('  ')[0]!.replace(/ /g, '');
  }
  return Buffer.from(hex, 'hex');
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

function readVector(name: string): Buffer {
  const file = join(vectorsDir, name);
  if (!existsSync(file)) assert.fail(`golden vector ${name} not found: looked in ${vectorsDir} (the keepalived captures must sit in ../shared/vectors/vrrp beside the repository)`);
  const frame = parseTcpdumpHex(readFileSync(file, 'utf8'));
  assert.ok(frame.length > 14, `${file}: no hex bytes found`);
  return frame;
}

test('the golden vectors are where the tests look for them', () => {
  assert.ok(existsSync(vectorsDir), `golden vectors missing: looked in ${vectorsDir}`);
});

describe('keepalived 2.2.7 captures (golden vectors)', () => {
  const vectors = [
    { file: 'v2-advert-prio150.hex', version: 2, priority: 150, interval: 1, ipId: 1, checksum: 0x3e03 },
    { file: 'v2-advert-prio0.hex', version: 2, priority: 0, interval: 1, ipId: 37, checksum: 0xd403 },
    { file: 'v3-advert-prio150.hex', version: 3, priority: 150, interval: 100, ipId: 1, checksum: 0x42ad },
    { file: 'v3-advert-prio0.hex', version: 3, priority: 0, interval: 100, ipId: 4, checksum: 0xd8ad },
  ] as const;

  for (const v of vectors) {
    test(`${v.file}: decodes every field and re-encodes byte for byte`, () => {
      const frame = readVector(v.file);
      const eth = parseEthernet(frame)!;
      assert.equal(eth.etherType, 0x0800);
      assert.equal(eth.dst, '01:00:5e:00:00:12', 'multicast MAC of 224.0.0.18');
      const packet = eth.payload;

      const r = decodeVrrpPacket(packet, { expect: { version: v.version, vrid: 51, intervalMs: 1000, addresses: ['10.99.0.100'], auth: { type: 0 } } });
      assert.ok(r.ok, r.ok ? '' : `${r.reason}: ${r.detail}`);
      assert.deepEqual(r.ip, {
        headerLength: 20,
        tos: 0xc0,
        totalLength: v.version === 2 ? 40 : 32,
        id: v.ipId,
        dontFragment: false,
        ttl: 255,
        protocol: 112,
        checksum: r.ip.checksum,
        src: '10.99.0.1',
        dst: '224.0.0.18',
      });
      assert.deepEqual(r.advert, {
        version: v.version,
        type: 1,
        vrid: 51,
        priority: v.priority,
        interval: v.interval,
        intervalMs: 1000,
        addresses: ['10.99.0.100'],
        authType: 0,
        authData: v.version === 2 ? new Uint8Array(8) : new Uint8Array(0),
        checksum: v.checksum,
      });

      const input: VrrpAdvertInput = { version: v.version, vrid: 51, priority: v.priority, intervalMs: 1000, addresses: ['10.99.0.100'] };
      const message = encodeVrrp(input, { src: '10.99.0.1', dst: '224.0.0.18' });
      assert.equal(hex(message), hex(packet.subarray(20)), 'VRRP message');
      const header = encodeIPv4Header({ src: '10.99.0.1', dst: '224.0.0.18', payloadLength: message.length, id: v.ipId });
      assert.equal(hex(header), hex(packet.subarray(0, 20)), 'IPv4 header');
      const whole = encodeVrrpPacket(input, { src: '10.99.0.1', dst: '224.0.0.18', id: v.ipId });
      assert.equal(hex(whole), hex(packet), 'IPv4 packet');
    });
  }

  test('decoding leaves the caller\'s Buffer untouched (Buffer#slice is a view)', () => {
    const packet = parseEthernet(readVector('v3-advert-prio150.hex'))!.payload;
    const before = hex(packet);
    assert.ok(decodeVrrpPacket(packet).ok);
    assert.ok(decodeVrrpPacket(packet).ok, 'a second decode of the same bytes');
    assert.equal(hex(packet), before);
  });

  test('garp-U.hex: a gratuitous ARP for the VIP, re-encoded byte for byte', () => {
    const frame = readVector('garp-U.hex');
    const eth = parseEthernet(frame)!;
    assert.equal(eth.etherType, 0x0806);
    assert.equal(eth.dst, 'ff:ff:ff:ff:ff:ff');
    assert.deepEqual(parseArp(eth.payload), {
      op: 1,
      senderMac: '5e:09:2a:d5:f1:bf',
      senderIp: '10.99.0.100',
      targetMac: 'ff:ff:ff:ff:ff:ff',
      targetIp: '10.99.0.100',
    });
    assert.equal(Buffer.from(encodeGratuitousArp('5e:09:2a:d5:f1:bf', '10.99.0.100')).toString('hex'), frame.toString('hex'));
  });
});

describe('checksums', () => {
  test('RFC 1071 example, and an odd length padded with a zero byte', () => {
    // RFC 1071 §3: the sum of 0001 f203 f4f5 f6f7 is ddf2, checksum 220d
    assert.equal(internetChecksum(Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7)), 0x220d);
    // odd: the last byte counts as its high half
    assert.equal(internetChecksum(Uint8Array.of(0x00, 0x01, 0xf2)), internetChecksum(Uint8Array.of(0x00, 0x01, 0xf2, 0x00)));
    assert.equal(internetChecksum(Uint8Array.of(0xab)), ~0xab00 & 0xffff);
    assert.equal(internetChecksum(new Uint8Array(0)), 0xffff);
    // parts sum as one buffer
    const a = Uint8Array.of(1, 2, 3, 4);
    const b = Uint8Array.of(5, 6, 7);
    assert.equal(internetChecksum(a, b), internetChecksum(Uint8Array.of(1, 2, 3, 4, 5, 6, 7)));
  });

  test('a long buffer of 0xff folds its carries correctly', () => {
    // every word is 0xffff: the one's complement sum stays 0xffff, checksum 0
    assert.equal(internetChecksum(new Uint8Array(65_534).fill(0xff)), 0);
  });

  test('v3 covers the pseudo-header, v2 does not', () => {
    const input = { vrid: 51, priority: 150, intervalMs: 1000, addresses: ['10.99.0.100'] };
    const pseudo = { src: '10.99.0.1', dst: '224.0.0.18' };
    const v3 = encodeVrrp({ ...input, version: 3 }, pseudo);
    const v3Other = encodeVrrp({ ...input, version: 3 }, { src: '10.99.0.2', dst: '224.0.0.18' });
    assert.notEqual(vrrpChecksum(v3, 3, pseudo), vrrpChecksum(v3, 3, { src: '10.99.0.2', dst: '224.0.0.18' }));
    assert.notDeepEqual(v3.subarray(6, 8), v3Other.subarray(6, 8), 'the source address changes the v3 checksum');
    // unicast: the peer's address is the pseudo-header's destination
    assert.equal(decodeVrrp(v3, { pseudo: { src: '10.99.0.1', dst: '10.99.0.2' } }).ok, false);

    const v2 = encodeVrrp({ ...input, version: 2 }, pseudo);
    const v2NoPseudo = encodeVrrp({ ...input, version: 2 });
    assert.deepEqual(v2, v2NoPseudo, 'v2 ignores addresses');
    assert.equal(vrrpChecksum(v2, 2), (v2[6]! << 8) | v2[7]!);
    // the same message bytes checked as v3 would fail: the two sums differ
    assert.notEqual(vrrpChecksum(v2, 3, pseudo), vrrpChecksum(v2, 2));
  });

  test('a v3 packet cannot be verified without its addresses', () => {
    const v3 = encodeVrrp({ version: 3, vrid: 1, priority: 100, intervalMs: 1000, addresses: ['192.0.2.10'] }, { src: '192.0.2.1', dst: '224.0.0.18' });
    const r = decodeVrrp(v3);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reason, 'BAD_CHECKSUM');
    assert.throws(() => encodeVrrp({ version: 3, vrid: 1, priority: 100, intervalMs: 1000, addresses: [] }), /pseudo-header/);
  });

  test('every single flipped bit of a golden packet is caught', () => {
    for (const file of ['v2-advert-prio150.hex', 'v3-advert-prio150.hex']) {
      const packet = Buffer.from(parseEthernet(readVector(file))!.payload);
      const vrrp = packet.subarray(20);
      for (let bit = 0; bit < vrrp.length * 8; bit++) {
        const copy = Buffer.from(vrrp);
        copy[bit >> 3]! ^= 0x80 >> (bit & 7);
        const r = decodeVrrp(copy, { pseudo: { src: '10.99.0.1', dst: '224.0.0.18' } });
        assert.equal(r.ok, false, `${file}: bit ${bit} flipped and still accepted`);
      }
    }
  });

  test('a flipped bit in the priority is BAD_CHECKSUM, not a new priority', () => {
    const packet = Buffer.from(parseEthernet(readVector('v3-advert-prio150.hex'))!.payload);
    packet[20 + 2]! ^= 0x01;
    const r = decodeVrrpPacket(packet);
    assert.deepEqual(r.ok ? r : { reason: r.reason, detail: r.detail }, { reason: 'BAD_CHECKSUM', detail: 'VRRPv3 checksum 0x42ad, computed 0x41ad' });
  });
});

const v3 = (over: Partial<VrrpAdvertInput> = {}): VrrpAdvertInput => ({ version: 3, vrid: 51, priority: 100, intervalMs: 1000, addresses: ['10.99.0.100'], ...over });
const v2 = (over: Partial<VrrpAdvertInput> = {}): VrrpAdvertInput => ({ version: 2, vrid: 51, priority: 100, intervalMs: 1000, addresses: ['10.99.0.100'], ...over });

describe('drops, each with its stable reason', () => {
  const ip = { src: '10.99.0.1', dst: '224.0.0.18' };

  /** A packet with its VRRP message edited and both checksums recomputed. */
  function edited(advert: VrrpAdvertInput, edit: (m: Uint8Array) => Uint8Array | void, ipOver: { ttl?: number; protocol?: number } = {}): Uint8Array {
    let m = encodeVrrp(advert, ip);
    m = edit(m) ?? m;
    const sum = vrrpChecksum(m, advert.version, ip);
    m[6] = sum >> 8;
    m[7] = sum & 0xff;
    const h = encodeIPv4Header({ ...ip, payloadLength: m.length, ...ipOver });
    return Buffer.concat([h, m]);
  }

  const table: Array<{ name: string; packet: () => Uint8Array; expect?: Parameters<typeof decodeVrrpPacket>[1]; reason: DropReason; detail: RegExp }> = [
    { name: 'TTL 254 (came through a router)', packet: () => edited(v3(), () => {}, { ttl: 254 }), reason: 'BAD_TTL', detail: /TTL 254 from 10\.99\.0\.1, expected 255/ },
    { name: 'another IP protocol', packet: () => edited(v3(), () => {}, { protocol: 17 }), reason: 'BAD_PROTOCOL', detail: /protocol 17/ },
    { name: 'VRRP version 1', packet: () => edited(v3(), (m) => void (m[0] = 0x11)), reason: 'BAD_VERSION', detail: /version 1, expected 2 or 3/ },
    { name: 'v2 where v3 is configured', packet: () => edited(v2(), () => {}), expect: { expect: { version: 3 } }, reason: 'BAD_VERSION', detail: /version 2, configured 3/ },
    { name: 'type 2', packet: () => edited(v3(), (m) => void (m[0] = 0x32)), reason: 'BAD_TYPE', detail: /type 2/ },
    { name: 'count says 2 addresses, 1 sent', packet: () => edited(v3(), (m) => void (m[3] = 2)), reason: 'BAD_LENGTH', detail: /2 address\(es\) make a VRRPv3 message of 16 bytes/ },
    { name: 'v2 without its auth trailer', packet: () => edited(v2(), (m) => m.slice(0, 12)), reason: 'BAD_LENGTH', detail: /12 bytes/ },
    { name: 'trailing garbage', packet: () => edited(v3(), (m) => Uint8Array.of(...m, 0, 0)), reason: 'BAD_LENGTH', detail: /14 bytes/ },
    { name: 'another VRID', packet: () => edited(v3({ vrid: 52 }), () => {}), expect: { expect: { vrid: 51 } }, reason: 'VRID_MISMATCH', detail: /VRID 52, configured 51/ },
    { name: 'v2 interval 2s where 1s is configured', packet: () => edited(v2({ intervalMs: 2000 }), () => {}), expect: { expect: { intervalMs: 1000 } }, reason: 'INTERVAL_MISMATCH', detail: /2s, configured 1s/ },
    { name: 'v2 unknown auth type', packet: () => edited(v2({ authType: 3 }), () => {}), reason: 'BAD_AUTH', detail: /unknown auth type 3/ },
    { name: 'v2 password where none is configured', packet: () => edited(v2({ authType: 1, authData: passwordAuthData('secret') }), () => {}), expect: { expect: { auth: { type: 0 } } }, reason: 'BAD_AUTH', detail: /auth type 1, configured 0/ },
    { name: 'v2 wrong password', packet: () => edited(v2({ authType: 1, authData: passwordAuthData('secret') }), () => {}), expect: { expect: { auth: { type: 1, password: 'Secret' } } }, reason: 'BAD_AUTH', detail: /wrong simple text password/ },
    { name: 'another VIP', packet: () => edited(v3({ addresses: ['10.99.0.101'] }), () => {}), expect: { expect: { addresses: ['10.99.0.100'] } }, reason: 'ADDRESS_MISMATCH', detail: /\[10\.99\.0\.101\], configured \[10\.99\.0\.100\]/ },
    { name: 'a VIP missing', packet: () => edited(v3({ addresses: ['10.99.0.100'] }), () => {}), expect: { expect: { addresses: ['10.99.0.100', '10.99.0.101'] } }, reason: 'ADDRESS_MISMATCH', detail: /configured/ },
    { name: 'a truncated IP header', packet: () => edited(v3(), () => {}).subarray(0, 12), reason: 'BAD_IP_HEADER', detail: /shorter than an IPv4 header/ },
    { name: 'IP total length past the bytes received', packet: () => edited(v3(), () => {}).subarray(0, 30), reason: 'BAD_IP_HEADER', detail: /total length 32/ },
    {
      name: 'a bad IP header checksum',
      packet: () => {
        const p = edited(v3(), () => {});
        p[10]! ^= 0xff;
        return p;
      },
      reason: 'BAD_IP_HEADER',
      detail: /header checksum/,
    },
    {
      name: 'a fragment',
      packet: () => {
        const m = encodeVrrp(v3(), ip);
        const h = encodeIPv4Header({ ...ip, payloadLength: m.length });
        h[6] = 0x20; // more fragments
        const sum = internetChecksum(Uint8Array.of(...h.subarray(0, 10), 0, 0, ...h.subarray(12)));
        h[10] = sum >> 8;
        h[11] = sum & 0xff;
        return Buffer.concat([h, m]);
      },
      reason: 'BAD_IP_HEADER',
      detail: /fragment/,
    },
  ];

  for (const row of table) {
    test(row.name, () => {
      const r = decodeVrrpPacket(row.packet(), row.expect);
      assert.equal(r.ok, false, 'accepted');
      if (r.ok) return;
      assert.equal(r.reason, row.reason, r.detail);
      assert.match(r.detail, row.detail);
      assert.ok(DROP_REASONS.includes(r.reason));
    });
  }

  test('accepted: the same packets with matching expectations, a password that matches, the owner with other VIPs', () => {
    assert.ok(decodeVrrpPacket(edited(v2({ authType: 1, authData: passwordAuthData('secret') }), () => {}), { expect: { auth: { type: 1, password: 'secret' } } }).ok);
    // without an expectation the auth type is reported, not judged
    const r = decodeVrrpPacket(edited(v2({ authType: 1, authData: passwordAuthData('secret') }), () => {}));
    assert.ok(r.ok);
    assert.equal(r.ok && r.advert.authType, 1);
    assert.equal(r.ok && Buffer.from(r.advert.authData).toString(), 'secret\0\0');
    // RFC 3768 §7.1: the address owner's list is not held against it
    assert.ok(decodeVrrpPacket(edited(v3({ priority: 255, addresses: ['10.99.0.101'] }), () => {}), { expect: { addresses: ['10.99.0.100'] } }).ok);
    // the order of the addresses does not matter
    assert.ok(decodeVrrpPacket(edited(v3({ addresses: ['10.0.0.2', '10.0.0.1'] }), () => {}), { expect: { addresses: ['10.0.0.1', '10.0.0.2'] } }).ok);
    // v3 interval differences are learnt, not dropped
    assert.ok(decodeVrrpPacket(edited(v3({ intervalMs: 200 }), () => {}), { expect: { intervalMs: 1000 } }).ok);
    // unicast may allow a lower TTL
    assert.ok(decodeVrrpPacket(edited(v3(), () => {}, { ttl: 64 }), { checkTtl: false }).ok);
    // no addresses at all (keepalived allows instances without VIPs)
    assert.ok(decodeVrrpPacket(edited(v3({ addresses: [] }), () => {})).ok);
  });

  test('the v3 reserved bits are ignored on reception (RFC 5798 §5.2.6)', () => {
    const r = decodeVrrpPacket(edited(v3({ intervalMs: 100 }), (m) => void (m[4]! |= 0xf0)));
    assert.ok(r.ok);
    assert.equal(r.ok && r.advert.intervalMs, 100);
  });

  test('payload-only transports: TTL passed in, checked first', () => {
    const m = encodeVrrp(v3(), ip);
    assert.ok(decodeVrrp(m, { pseudo: ip, ttl: 255 }).ok);
    assert.deepEqual(decodeVrrp(m, { pseudo: ip, ttl: 1 }), { ok: false, reason: 'BAD_TTL', detail: 'TTL 1 from 10.99.0.1, expected 255' });
    assert.ok(decodeVrrp(m, { pseudo: ip }).ok, 'no ttl given: not checked');
  });

  test('shorter than the VRRP header', () => {
    const r = decodeVrrp(new Uint8Array(7));
    assert.deepEqual(r, { ok: false, reason: 'BAD_LENGTH', detail: '7 bytes, shorter than the 8-byte VRRP header' });
  });
});

describe('intervals and encoding limits', () => {
  test('v3 centiseconds, v2 whole seconds', () => {
    const table: Array<[2 | 3, number, number | RegExp]> = [
      [3, 1000, 100],
      [3, 100, 10],
      [3, 10, 1],
      [3, 40_950, 4095],
      [3, 40_960, /10ms to 40\.95s/],
      [3, 0, /10ms to 40\.95s/],
      [3, 15, /10ms steps/],
      [2, 1000, 1],
      [2, 255_000, 255],
      [2, 256_000, /1s to 255s/],
      [2, 1500, /whole seconds/],
      [2, 500, /whole seconds/],
    ];
    for (const [version, ms, want] of table) {
      const got = intervalField(version, ms);
      if (typeof want === 'number') assert.equal(got, want, `v${version} ${ms}ms`);
      else assert.match(String(got), want, `v${version} ${ms}ms`);
    }
  });

  test('a sub-second v3 advert survives a round trip', () => {
    const pseudo = { src: '192.0.2.1', dst: '224.0.0.18' };
    const r = decodeVrrp(encodeVrrp({ version: 3, vrid: 7, priority: 254, intervalMs: 100, addresses: ['192.0.2.10', '192.0.2.11'] }, pseudo), { pseudo });
    assert.ok(r.ok);
    assert.equal(r.ok && r.advert.interval, 10);
    assert.equal(r.ok && r.advert.intervalMs, 100);
    assert.deepEqual(r.ok && r.advert.addresses, ['192.0.2.10', '192.0.2.11']);
  });

  test('the encoder refuses what it cannot represent', () => {
    const ok = { version: 3 as const, vrid: 1, priority: 100, intervalMs: 1000, addresses: ['192.0.2.10'] };
    const pseudo = { src: '192.0.2.1', dst: '224.0.0.18' };
    assert.throws(() => encodeVrrp({ ...ok, vrid: 0 }, pseudo), /VRID must be 1-255/);
    assert.throws(() => encodeVrrp({ ...ok, priority: 256 }, pseudo), /priority must be 0-255/);
    assert.throws(() => encodeVrrp({ ...ok, intervalMs: 5 }, pseudo), /10ms steps/);
    assert.throws(() => encodeVrrp({ ...ok, addresses: ['192.0.2.300'] }, pseudo), /addresses\[0\]: expected an IPv4 address/);
    assert.throws(() => encodeVrrp({ ...ok, addresses: Array.from({ length: 256 }, () => '192.0.2.1') }, pseudo), /at most 255/);
    assert.throws(() => encodeIPv4Header({ src: 'x', dst: '224.0.0.18', payloadLength: 0 }), /IPv4 src/);
  });

  test('IPv4 header: DF when asked, defaults as keepalived', () => {
    const h = encodeIPv4Header({ src: '192.0.2.1', dst: '192.0.2.2', payloadLength: 12, dontFragment: true, id: 513 });
    const r = decodeIPv4(Uint8Array.of(...h, ...new Uint8Array(12)));
    assert.ok(r.ok);
    assert.deepEqual(r.ok && { ...r.ip, checksum: 0 }, { headerLength: 20, tos: 0xc0, totalLength: 32, id: 513, dontFragment: true, ttl: 255, protocol: 112, checksum: 0, src: '192.0.2.1', dst: '192.0.2.2' });
  });

  test('address helpers', () => {
    assert.equal(parseIPv4('10.99.0.1'), 0x0a630001);
    assert.equal(parseIPv4('255.255.255.255'), 0xffffffff);
    assert.equal(parseIPv4('10.99.0.256'), undefined);
    assert.equal(parseIPv4('010.1.1.1'), undefined);
    assert.equal(parseIPv4('10.1.1'), undefined);
    assert.ok(compareIPv4('10.0.0.2', '10.0.0.10') < 0, 'numeric, not text order');
    assert.ok(compareIPv4('192.0.2.1', '10.0.0.1') > 0);
    assert.equal(compareIPv4('10.0.0.1', '10.0.0.1'), 0);
  });
});
