import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { encodeV1, encodeV2, parseProxyHeader, V2_SIGNATURE, v6Words, type ParseResult } from './proxy-protocol.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const SIG = V2_SIGNATURE.toString('hex');

function ok(r: ParseResult) {
  assert.equal(r.kind, 'ok', JSON.stringify(r));
  if (r.kind !== 'ok') throw new Error('unreachable');
  return r;
}

test('v1 headers parse from a table', () => {
  const table: [string, string, string | undefined, number | undefined][] = [
    ['PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n', 'tcp4', '192.0.2.1', 56324],
    ['PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n', 'tcp6', '2001:db8::1', 1],
    ['PROXY UNKNOWN\r\n', 'unknown', undefined, undefined],
    ['PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n', 'unknown', undefined, undefined],
  ];
  for (const [text, transport, src, port] of table) {
    const r = ok(parseProxyHeader(Buffer.from(`${text}GET / HTTP/1.0\r\n`, 'latin1')));
    assert.equal(r.length, text.length, text);
    assert.equal(r.header.version, 1);
    assert.equal(r.header.transport, transport);
    assert.equal(r.header.source?.address, src);
    assert.equal(r.header.source?.port, port);
  }
});

test('malformed v1 headers are errors; prefixes are incomplete', () => {
  const errors = [
    'PROXY TCP4 192.0.2.1 198.51.100.2 56324\r\n', // a field missing
    'PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n', // wrong family
    'PROXY TCP4 192.0.2.1 198.51.100.2 65536 2\r\n', // port out of range
    'PROXY TCP4 192.0.2.1 198.51.100.2 01 2\r\n', // leading zero
    'PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n', // LF without CR
    'PROXY TCP4  192.0.2.1 198.51.100.2 1 2\r\n', // double space
    'PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n', // not a v1 protocol
    `PROXY TCP4 ${'1'.repeat(110)}`, // no CRLF within 107 bytes
    'GET / HTTP/1.1\r\n', // no header at all
    'proxy TCP4 192.0.2.1 198.51.100.2 1 2\r\n', // lower case
  ];
  for (const e of errors) assert.equal(parseProxyHeader(Buffer.from(e, 'latin1')).kind, 'error', e);
  for (const p of ['P', 'PROXY', 'PROXY TCP4 192.0.2.1 198.51.100.2 1 2', 'PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r']) {
    assert.equal(parseProxyHeader(Buffer.from(p, 'latin1')).kind, 'incomplete', p);
  }
});

test('v2 headers parse from a table (hand-written bytes)', () => {
  // PROXY, TCP over IPv4, 192.0.2.1:56324 → 198.51.100.2:443, then one TLV (PP2_TYPE_AUTHORITY "ex").
  const v4 = hex(`${SIG} 21 11 0011 c0000201 c6336402 dc04 01bb 02 0002 6578`);
  let r = ok(parseProxyHeader(Buffer.concat([v4, Buffer.from('payload')])));
  assert.equal(r.length, 16 + 17);
  assert.deepEqual(r.header.source, { address: '192.0.2.1', port: 56324 });
  assert.deepEqual(r.header.destination, { address: '198.51.100.2', port: 443 });
  assert.equal(r.header.transport, 'tcp4');
  assert.deepEqual(r.header.tlvs.map((t) => [t.type, t.value.toString()]), [[2, 'ex']]);
  // PROXY, UDP over IPv6.
  const v6 = hex(`${SIG} 21 22 0024 20010db8000000000000000000000001 20010db8000000000000000000000002 0035 0035`);
  r = ok(parseProxyHeader(v6));
  assert.equal(r.header.transport, 'udp6');
  assert.deepEqual(r.header.source, { address: '2001:db8::1', port: 53 });
  // LOCAL: addresses present but ignored (§2.2).
  r = ok(parseProxyHeader(hex(`${SIG} 20 11 000c c0000201 c6336402 dc04 01bb`)));
  assert.equal(r.header.command, 'local');
  assert.equal(r.header.source, undefined);
  // PROXY, UNSPEC: no addresses.
  r = ok(parseProxyHeader(hex(`${SIG} 21 00 0000`)));
  assert.equal(r.header.transport, 'unknown');
  assert.equal(r.length, 16);
});

test('malformed v2 headers are errors; prefixes are incomplete', () => {
  const errors: [string, RegExp][] = [
    [`0d0a0d0a000d0a515549540b 21 11 000c`, /signature/], // last signature byte wrong
    [`${SIG} 11 11 000c c0000201 c6336402 dc04 01bb`, /version 1/],
    [`${SIG} 22 11 000c c0000201 c6336402 dc04 01bb`, /command 2/],
    [`${SIG} 21 41 000c c0000201 c6336402 dc04 01bb`, /family/],
    [`${SIG} 21 11 0008 c0000201 c6336402`, /address block of 8 bytes/],
    [`${SIG} 21 11 000e c0000201 c6336402 dc04 01bb 0200`, /TLV truncated/],
    [`${SIG} 21 11 0010 c0000201 c6336402 dc04 01bb 02 0005 65`, /overruns/],
    [`${SIG} 21 11 ffff`, /more than 4096/],
  ];
  for (const [h, re] of errors) {
    const r = parseProxyHeader(hex(h));
    assert.equal(r.kind, 'error', h);
    if (r.kind === 'error') assert.match(r.reason, re);
  }
  const full = hex(`${SIG} 21 11 000c c0000201 c6336402 dc04 01bb`);
  for (let n = 1; n < full.length; n++) assert.equal(parseProxyHeader(full.subarray(0, n)).kind, 'incomplete', `first ${n} bytes`);
});

test('encoders round-trip through the parser', () => {
  const cases: [string, number, string, number][] = [
    ['192.0.2.1', 40000, '127.0.0.1', 9000],
    ['::ffff:192.0.2.1', 40000, '::ffff:127.0.0.1', 9000],
    ['2001:db8::7', 1, '::1', 65535],
    ['fe80::1:2:3:4', 2, '2001:db8:0:0:1::', 3],
  ];
  for (const [sa, sp, da, dp] of cases) {
    for (const enc of [encodeV1, encodeV2]) {
      const r = ok(parseProxyHeader(enc({ address: sa, port: sp }, { address: da, port: dp })));
      const want = sa.startsWith('::ffff:') ? sa.slice(7) : isIP(sa) === 4 ? sa : new URL(`http://[${sa}]`).hostname.slice(1, -1);
      assert.equal(r.header.source?.address, want, `${enc.name} ${sa}`);
      assert.equal(r.header.source?.port, sp);
      assert.equal(r.header.destination?.port, dp);
    }
  }
  assert.equal(encodeV1({ address: '192.0.2.1', port: 1 }, { address: '::1', port: 2 }).toString(), 'PROXY UNKNOWN\r\n', 'mixed families');
  assert.equal(encodeV1({ address: '192.0.2.1', port: 1 }, { address: '127.0.0.1', port: 2 }).toString(), 'PROXY TCP4 192.0.2.1 127.0.0.1 1 2\r\n');
  assert.equal(encodeV2({ address: '192.0.2.1', port: 56324 }, { address: '198.51.100.2', port: 443 }).toString('hex'), `${SIG}211100 0cc0000201c6336402dc0401bb`.replace(/\s/g, ''));
  const tlv = ok(parseProxyHeader(encodeV2(undefined, undefined, { local: true, tlvs: [{ type: 0xe0, value: Buffer.from('x') }] })));
  assert.equal(tlv.header.command, 'local');
  assert.deepEqual(tlv.header.tlvs.map((t) => t.type), [0xe0]);
});

test('v6Words expands every IPv6 text form', () => {
  assert.deepEqual(v6Words('::1'), [0, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(v6Words('2001:db8::'), [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(v6Words('::ffff:192.0.2.1'), [0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201]);
  assert.deepEqual(v6Words('1:2:3:4:5:6:7:8'), [1, 2, 3, 4, 5, 6, 7, 8]);
});
