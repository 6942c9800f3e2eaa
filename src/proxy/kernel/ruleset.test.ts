import { test } from 'node:test';
import assert from 'node:assert/strict';
import { counterKey, dealSlots, type KernelBackend, type KernelService, renderKernelRuleset, smoothOrder } from './ruleset.ts';

const be = (id: string, weight = 1, usable = true, backup = false): KernelBackend => ({ id, host: id.split(':')[0]!, port: Number(id.split(':')[1]), weight, usable, backup });

function shares(slots: number[]): number[] {
  const n = Array.from({ length: Math.max(-1, ...slots) + 1 }, () => 0);
  for (const j of slots) n[j]! += 1;
  return n;
}

test('slots are dealt by weight, interleaved (smooth WRR order)', () => {
  const table: [KernelBackend[], number[]][] = [
    [[be('10.0.0.1:80'), be('10.0.0.2:80')], [120, 120]],
    [[be('10.0.0.1:80', 3), be('10.0.0.2:80', 1)], [180, 60]],
    [[be('10.0.0.1:80'), be('10.0.0.2:80'), be('10.0.0.3:80')], [80, 80, 80]],
    [[be('10.0.0.1:80', 0), be('10.0.0.2:80')], [0, 240]],
  ];
  for (const [backends, want] of table) assert.deepEqual(shares(dealSlots(backends)), want);
  assert.deepEqual(smoothOrder([1, 1], 4), [0, 1, 0, 1]);
  assert.deepEqual(smoothOrder([5, 1, 1], 7), [0, 0, 1, 0, 2, 0, 0]);
});

test('a backend that goes down gives its slots away; every other slot stays where it was', () => {
  const all = [be('10.0.0.1:80'), be('10.0.0.2:80'), be('10.0.0.3:80')];
  const before = dealSlots(all);
  const after = dealSlots([all[0]!, { ...all[1]!, usable: false }, all[2]!]);
  for (let k = 0; k < before.length; k++) {
    if (before[k] !== 1) assert.equal(after[k], before[k], `slot ${k} moved`);
    else assert.notEqual(after[k], 1);
  }
  assert.deepEqual(shares(after), [120, 0, 120]);
});

test('backups take over only when no primary can; nothing usable gives no slots', () => {
  assert.deepEqual(shares(dealSlots([be('10.0.0.1:80', 1, false), be('10.0.0.9:80', 1, true, true)])), [0, 240]);
  assert.deepEqual(shares(dealSlots([be('10.0.0.1:80'), be('10.0.0.9:80', 1, true, true)])), [240]);
  assert.deepEqual(dealSlots([be('10.0.0.1:80', 1, false)]), []);
});

const nat: KernelService = {
  name: 'web',
  protocol: 'tcp',
  mode: 'nat',
  listen: [{ host: '192.0.2.10', port: 80 }],
  scheduler: 'rr',
  replies: 'snat',
  counters: true,
  backends: [be('10.0.0.1:8080'), be('10.0.0.2:8080', 1, false)],
};

test('nat: DNAT per backend chain through a numgen verdict map, masquerade for snat, counters carried over', () => {
  const text = renderKernelRuleset([nat], new Map([[counterKey('web', '10.0.0.1:8080'), { packets: 7, bytes: 420 }]]));
  assert.match(text, /^table ip palisade_lb \{\}\ndelete table ip palisade_lb\ntable netdev palisade_dr \{\}\ndelete table netdev palisade_dr\n/);
  assert.match(text, /counter c_0_0 \{ packets 7 bytes 420 \}/);
  assert.match(text, /counter c_0_1 \{\}/);
  assert.match(text, /chain s0_b0 \{\n {4}counter name c_0_0\n {4}meta l4proto tcp dnat to 10\.0\.0\.1:8080\n/);
  assert.match(text, /numgen inc mod 240 vmap \{ 0 : jump s0_b0, 1 : jump s0_b0,/);
  assert.doesNotMatch(text, /jump s0_b1/);
  assert.match(text, /type nat hook prerouting priority dstnat; policy accept;\n {4}ip daddr 192\.0\.2\.10 tcp dport 80 jump s0\n/);
  assert.match(text, /ct status dnat ct original ip daddr 192\.0\.2\.10 ct protocol tcp ct original proto-dst 80 masquerade/);
  assert.doesNotMatch(text, /table netdev palisade_dr \{\n/);
  const routed = renderKernelRuleset([{ ...nat, replies: 'route', scheduler: 'sh' }]);
  assert.doesNotMatch(routed, /masquerade/);
  assert.match(routed, /jhash ip saddr mod 240 seed 0x50414c49 vmap/);
});

test('dr: netdev ingress on the interface, MAC rewrite and fwd, a flow hash (or source hash for sh)', () => {
  const dr: KernelService = { ...nat, mode: 'dr', protocol: 'udp', interface: 'eth0', interfaceMac: '02:00:00:00:00:aa', backends: [{ ...be('10.0.0.1:80'), mac: '02:00:00:00:00:01' }] };
  const text = renderKernelRuleset([dr]);
  assert.match(text, /table netdev palisade_dr \{\n/);
  assert.match(text, /ether saddr set 02:00:00:00:00:aa ether daddr set 02:00:00:00:00:01 fwd to "eth0"/);
  assert.match(text, /jhash ip saddr \. udp sport mod 240 seed 0x50414c49 vmap/);
  assert.match(text, /type filter hook ingress device "eth0" priority -500; policy accept;\n {4}ip daddr 192\.0\.2\.10 udp dport 80 jump s0\n/);
  assert.doesNotMatch(text, /table ip palisade_lb \{\n/);
  assert.match(renderKernelRuleset([{ ...dr, scheduler: 'sh' }]), /jhash ip saddr mod 240 seed 0x50414c49 vmap/);
  // no services: both tables removed, nothing else named
  assert.equal(renderKernelRuleset([]), 'table ip palisade_lb {}\ndelete table ip palisade_lb\ntable netdev palisade_dr {}\ndelete table netdev palisade_dr\n');
});
