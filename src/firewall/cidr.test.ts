import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contains, formatNetwork, parseNetwork, reduceNetworks } from './cidr.ts';

test('networks are parsed, host bits cleared and written canonically', () => {
  const cases: [string, string | undefined][] = [
    ['10.99.1.100/24', '10.99.1.0/24'],
    ['192.0.2.7', '192.0.2.7'],
    ['192.0.2.7/32', '192.0.2.7'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['2001:DB8:0:0:1::/32', '2001:db8::/32'],
    ['2001:db8::1', '2001:db8::1'],
    ['::ffff:192.0.2.1/96', '::ffff:0:0/96'],
    ['fe80::1:2:3:4/64', 'fe80::/64'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['::/0', '::/0'],
    ['10.0.0.0/33', undefined],
    ['10.0.0/8', undefined],
    ['2001:db8::/129', undefined],
    ['10.0.0.0/8/8', undefined],
  ];
  for (const [input, want] of cases) {
    const n = parseNetwork(input);
    assert.equal(n === undefined ? undefined : formatNetwork(n), want, input);
  }
});

const n = (s: string) => parseNetwork(s)!;

test('contains: same family, shorter or equal prefix, same network bits', () => {
  assert.equal(contains(n('10.0.0.0/8'), n('10.99.1.0/24')), true);
  assert.equal(contains(n('10.99.1.0/24'), n('10.0.0.0/8')), false);
  assert.equal(contains(n('10.0.0.0/8'), n('11.0.0.1')), false);
  assert.equal(contains(n('::/0'), n('10.0.0.1')), false, 'an IPv6 network never contains an IPv4 address');
});

test('reduceNetworks keeps one family, drops duplicates and networks inside others (nft refuses overlaps)', () => {
  assert.deepEqual(reduceNetworks(['198.51.100.7', '198.51.100.0/24', '10.1.0.0/16', '10.0.0.0/8', '2001:db8::/32', '10.0.0.0/8'], 4), ['10.0.0.0/8', '198.51.100.0/24']);
  assert.deepEqual(reduceNetworks(['2001:db8:1::/48', '2001:db8::/32', '10.0.0.0/8', 'fc00::/7'], 6), ['2001:db8::/32', 'fc00::/7']);
  assert.deepEqual(reduceNetworks([], 4), []);
});
