import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CidrSet, isAddress } from './cidr.ts';

function set(items: string[]): CidrSet {
  const s = CidrSet.parse(items);
  assert.ok(s instanceof CidrSet, JSON.stringify(s));
  return s;
}

const cases: { ranges: string[]; yes: string[]; no: string[] }[] = [
  { ranges: ['10.0.0.0/8'], yes: ['10.0.0.1', '10.255.255.255', '::ffff:10.1.2.3'], no: ['11.0.0.0', '9.255.255.255', '::1', 'junk', ''] },
  { ranges: ['127.0.0.1'], yes: ['127.0.0.1', '::ffff:127.0.0.1'], no: ['127.0.0.2'] },
  { ranges: ['192.0.2.128/25', '198.51.100.7/32'], yes: ['192.0.2.128', '192.0.2.255', '198.51.100.7'], no: ['192.0.2.127', '198.51.100.8'] },
  { ranges: ['0.0.0.0/0'], yes: ['1.2.3.4', '255.255.255.255'], no: ['2001:db8::1'] },
  { ranges: ['2001:db8::/32'], yes: ['2001:db8::1', '2001:0db8:ffff::', '2001:db8:0:0:0:0:0:1'], no: ['2001:db9::', '::1', '10.0.0.1'] },
  { ranges: ['::1'], yes: ['::1', '0:0:0:0:0:0:0:1'], no: ['::2', '127.0.0.1'] },
  { ranges: ['fe80::/10'], yes: ['fe80::1%eth0', 'febf::1'], no: ['fec0::1'] },
  { ranges: ['::ffff:192.0.2.0/120'], yes: ['192.0.2.9', '::ffff:192.0.2.200'], no: ['192.0.3.1'] },
  { ranges: ['10.1.2.3/16'], yes: ['10.1.200.1'], no: ['10.2.0.1'] }, // host bits ignored, as nginx
  { ranges: ['all'], yes: ['1.2.3.4', '::1', '::ffff:1.2.3.4'], no: ['not-an-address'] },
  { ranges: [], yes: [], no: ['1.2.3.4', '::1'] },
];

for (const c of cases) {
  test(`cidr ${JSON.stringify(c.ranges)}`, () => {
    const s = set(c.ranges);
    for (const a of c.yes) assert.equal(s.has(a), true, `${a} in ${c.ranges.join(', ')}`);
    for (const a of c.no) assert.equal(s.has(a), false, `${a} not in ${c.ranges.join(', ')}`);
  });
}

test('cidr: bad items are reported with their index', () => {
  for (const [items, index] of [
    [['10.0.0.0/8', '10.0.0.0/33'], 1],
    [['300.1.1.1'], 0],
    [['1.2.3.4/'], 0],
    [['::', '2001:db8::/129'], 1],
    [['1:2:3:4:5:6:7:8:9'], 0],
    [['example.com'], 0],
  ] as const) {
    const r = CidrSet.parse(items);
    assert.ok(!(r instanceof CidrSet), `${items.join(',')} should fail`);
    assert.equal(r.index, index);
  }
  assert.equal(isAddress('::ffff:1.2.3.4'), true);
  assert.equal(isAddress('1.2.3'), false);
});
