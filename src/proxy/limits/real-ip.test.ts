import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CidrSet } from './cidr.ts';
import { realClientAddress } from './real-ip.ts';

const trusted = CidrSet.parse(['10.0.0.0/8', '127.0.0.1']) as CidrSet;

const cases: [peer: string, xff: string | undefined, want: string][] = [
  ['203.0.113.5', '198.51.100.1', '203.0.113.5'], // untrusted peer: XFF ignored
  ['10.0.0.2', undefined, '10.0.0.2'], // trusted peer without XFF
  ['10.0.0.2', '198.51.100.1', '198.51.100.1'],
  ['10.0.0.2', '6.6.6.6, 198.51.100.1', '198.51.100.1'], // a forged left entry is not believed
  ['10.0.0.2', '198.51.100.1, 10.9.9.9', '198.51.100.1'], // trusted hops skipped from the right
  ['10.0.0.2', '198.51.100.1,10.9.9.9 , 127.0.0.1', '198.51.100.1'],
  ['10.0.0.2', '10.1.1.1, 10.2.2.2', '10.1.1.1'], // all trusted: the left-most
  ['10.0.0.2', 'garbage, 10.2.2.2', '10.2.2.2'], // malformed: the last trusted one stands
  ['10.0.0.2', 'garbage', '10.0.0.2'],
  ['::ffff:10.0.0.2', '2001:db8::7', '2001:db8::7'],
  ['10.0.0.2', '', '10.0.0.2'],
];

test('real client address from X-Forwarded-For behind trusted proxies', () => {
  for (const [peer, xff, want] of cases) assert.equal(realClientAddress(peer, xff, trusted), want, `${peer} / ${xff}`);
  assert.equal(realClientAddress('10.0.0.2', '1.2.3.4', CidrSet.EMPTY), '10.0.0.2', 'no trusted proxies: always the peer');
});
