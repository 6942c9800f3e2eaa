import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONNTRACK_NO_STATE, CONNTRACK_SLOTS, conntrackHint, connectionCounts, encodeConntrackRows, ipv4Number, sumByKey } from './conntrack.ts';

/** An answer's counters: `rows[i]` maps slot → count (enum tcp_conntrack values, or CONNTRACK_NO_STATE). */
function counts(rows: Record<number, number>[]): Uint32Array {
  const out = new Uint32Array(rows.length * CONNTRACK_SLOTS);
  rows.forEach((r, i) => {
    for (const [slot, n] of Object.entries(r)) out[i * CONNTRACK_SLOTS + Number(slot)] = n;
  });
  return out;
}

test('IPv4 addresses become the numbers the addon compares (host order); anything else is refused', () => {
  assert.equal(ipv4Number('10.0.0.1'), 0x0a000001);
  assert.equal(ipv4Number('255.255.255.255'), 0xffffffff);
  assert.equal(ipv4Number('0.0.0.0'), 0);
  for (const bad of ['10.0.0', '::1', 'web1', '10.0.0.256', '']) assert.throws(() => ipv4Number(bad), RangeError, bad);
});

test('rows are encoded as [protocol, vip, vport, server, sport]', () => {
  const q = encodeConntrackRows([
    { protocol: 'tcp', vip: '192.0.2.10', vport: 80, server: '10.0.0.1', sport: 8080 },
    { protocol: 'udp', vip: '192.0.2.10', vport: 554, server: '10.0.0.2', sport: 5554 },
  ]);
  assert.deepEqual([...q], [6, 0xc000020a, 80, 0x0a000001, 8080, 17, 0xc000020a, 554, 0x0a000002, 5554]);
  assert.throws(() => encodeConntrackRows([{ protocol: 'tcp', vip: '192.0.2.10', vport: 65536, server: '10.0.0.1', sport: 1 }]), /not a port/);
  assert.equal(encodeConntrackRows([]).length, 0);
});

test('LVS columns from conntrack states: ESTABLISHED is active; every other TCP state and UDP is inactive', () => {
  // enum tcp_conntrack: NONE 0, SYN_SENT 1, SYN_RECV 2, ESTABLISHED 3, FIN_WAIT 4, CLOSE_WAIT 5, LAST_ACK 6, TIME_WAIT 7, CLOSE 8, SYN_SENT2 9
  const cases: { name: string; slots: Record<number, number>; want: { active: number; inactive: number } }[] = [
    { name: 'nothing', slots: {}, want: { active: 0, inactive: 0 } },
    { name: 'established', slots: { 3: 5 }, want: { active: 5, inactive: 0 } },
    { name: 'handshake (SYN_SENT, SYN_RECV)', slots: { 1: 2, 2: 1 }, want: { active: 0, inactive: 3 } },
    { name: 'closing (FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT, CLOSE)', slots: { 4: 1, 5: 1, 6: 1, 7: 10, 8: 2 }, want: { active: 0, inactive: 15 } },
    { name: 'UDP flows (no state)', slots: { [CONNTRACK_NO_STATE]: 7 }, want: { active: 0, inactive: 7 } },
    { name: 'a mix', slots: { 3: 4, 7: 6, [CONNTRACK_NO_STATE]: 1 }, want: { active: 4, inactive: 7 } },
  ];
  const c = counts(cases.map((x) => x.slots));
  cases.forEach((x, i) => assert.deepEqual(connectionCounts(c, i), x.want, x.name));
  assert.throws(() => connectionCounts(c, cases.length), /no row/);
});

test('a backend behind several listen addresses: its rows are summed', () => {
  const m = sumByKey(['web\u0000a', 'web\u0000b', 'web\u0000a'], { counts: counts([{ 3: 1, 7: 1 }, { 3: 2 }, { 3: 10, 2: 1 }]) });
  assert.deepEqual(Object.fromEntries(m), { 'web\u0000a': { active: 11, inactive: 2 }, 'web\u0000b': { active: 2, inactive: 0 } });
});

test('a failed dump gets a hint an operator can act on', () => {
  assert.match(conntrackHint('EPERM'), /CAP_NET_ADMIN/);
  assert.match(conntrackHint('EINVAL'), /nf_conntrack_netlink/);
  assert.match(conntrackHint('ETIMEDOUT'), /5 s/);
  assert.equal(conntrackHint('EBADMSG'), '');
  assert.equal(conntrackHint(undefined), '');
});
