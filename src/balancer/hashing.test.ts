import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { makeBackends } from './conformance.ts';
import { buildKetamaRing } from './hash.ts';
import { crc32, foldAddress, isPrime, parseIPv4, parseIPv6 } from './hashing.ts';
import { buildMaglevTable } from './mh.ts';

describe('crc32', () => {
  it('matches zlib (the IEEE polynomial nginx uses) on ASCII and UTF-8', () => {
    assert.equal(crc32('123456789'), 0xcbf43926);
    for (const s of ['', 'a', '/index.html?x=1', 'ü', '€', '😀', 'mixed ü€😀 text']) assert.equal(crc32(s), zlibCrc32(s), s);
  });
});

describe('address parsing', () => {
  const v4: [string, number][] = [
    ['0.0.0.0', 0],
    ['192.0.2.1', 0xc0000201],
    ['255.255.255.255', 0xffffffff],
    ['1.2.3', -1],
    ['1.2.3.4.5', -1],
    ['256.1.1.1', -1],
    ['01.2.3.4', -1],
    ['1.2.3.', -1],
    ['a.b.c.d', -1],
    ['', -1],
  ];
  for (const [text, want] of v4) it(`IPv4 ${JSON.stringify(text)} → ${want}`, () => assert.equal(parseIPv4(text), want));

  const v6: [string, number[] | undefined][] = [
    ['::', [0, 0, 0, 0, 0, 0, 0, 0]],
    ['::1', [0, 0, 0, 0, 0, 0, 0, 1]],
    ['2001:db8::1', [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]],
    ['2001:db8:1:2:3:4:5:6', [0x2001, 0xdb8, 1, 2, 3, 4, 5, 6]],
    ['fe80::1%eth0', [0xfe80, 0, 0, 0, 0, 0, 0, 1]],
    ['::ffff:192.0.2.1', [0, 0, 0, 0, 0, 0xffff, 0xc000, 0x201]],
    ['1::', [1, 0, 0, 0, 0, 0, 0, 0]],
    ['1:2:3:4:5:6:7::', [1, 2, 3, 4, 5, 6, 7, 0]],
    ['1::2::3', undefined],
    ['12345::1', undefined],
    ['1:2:3:4:5:6:7:8:9', undefined],
    ['1:2', undefined],
    [':1', undefined],
    ['g::1', undefined],
    ['192.0.2.1', undefined],
  ];
  for (const [text, want] of v6) {
    it(`IPv6 ${text} → ${want ? want.map((w) => w.toString(16)).join(':') : 'invalid'}`, () => {
      const out = new Uint16Array(8);
      const ok = parseIPv6(text, out);
      assert.equal(ok, want !== undefined);
      if (want) assert.deepEqual([...out], want);
    });
  }

  it('folds IPv4-mapped IPv6 as IPv4, and ignores ports', () => {
    assert.equal(foldAddress('::ffff:192.0.2.1'), foldAddress('192.0.2.1'));
    assert.equal(foldAddress('192.0.2.1:8080'), 0xc0000201);
    assert.equal(foldAddress('[2001:db8::1]:443'), foldAddress('2001:db8::1'));
    assert.equal(foldAddress('2001:db8::1'), (0x20010db8 ^ 0 ^ 0 ^ 1) >>> 0);
  });
});

describe('Maglev table (ip_vs_mh populate)', () => {
  it('gives each backend a share of positions proportional to its weight', () => {
    const ids = ['a:1', 'b:1', 'c:1', 'd:1'];
    const table = buildMaglevTable(ids, [1, 2, 3, 4], 65537);
    const counts = [0, 0, 0, 0];
    for (const i of table) counts[i]!++;
    counts.forEach((c, i) => assert.ok(Math.abs(c / 65537 - (i + 1) / 10) < 0.002, `${ids[i]}: ${c}`));
  });

  it('fills every position, and weight 0 gets none', () => {
    const table = buildMaglevTable(['a', 'b', 'c'], [1, 0, 1], 251);
    assert.ok(!table.includes(-1));
    assert.ok(!table.includes(1));
  });

  it('is empty without members', () => {
    assert.ok(buildMaglevTable(['a'], [0], 7).every((v) => v === -1));
  });

  it('depends only on ids and weights (the same on every director)', () => {
    assert.deepEqual(buildMaglevTable(['x:80', 'y:80'], [1, 1], 251), buildMaglevTable(['x:80', 'y:80'], [1, 1], 251));
  });

  it('primes', () => {
    assert.ok(isPrime(65537) && isPrime(251) && isPrime(2) && !isPrime(65536) && !isPrime(1) && !isPrime(9));
  });
});

describe('ketama ring (nginx hash consistent)', () => {
  it('has 160 points per unit of weight, sorted', () => {
    const ring = buildKetamaRing(makeBackends([1, 2, 0]));
    assert.ok(ring.points.length > 470 && ring.points.length <= 480);
    for (let k = 1; k < ring.points.length; k++) assert.ok(ring.points[k - 1]! < ring.points[k]!);
    assert.ok(!ring.owner.includes(2));
  });
});
