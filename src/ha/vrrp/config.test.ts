/** The `vrrp:` key of the cluster file (src/config/ha-schema.ts). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { advertIntervalProblem, memberInterface, syncGroupOf, vrrpSchema } from '../../config/ha-schema.ts';

/** A minimal valid instance; rows override parts of it. */
const vi = (over: Record<string, unknown> = {}) => ({
  vrid: 51,
  interface: 'eth0',
  virtual_ipaddress: ['192.0.2.10/24'],
  members: { d1: { priority: 150 }, d2: { priority: 100 } },
  ...over,
});

describe('vrrp schema', () => {
  test('defaults: v3, 1s adverts, preempt, raw multicast, keepalived GARP timing', () => {
    const cfg = vrrpSchema.parse({ instances: { VI_1: vi() } });
    assert.deepEqual(cfg, {
      instances: {
        VI_1: {
          vrid: 51,
          version: 3,
          interface: 'eth0',
          advert_interval: 1000,
          virtual_ipaddress: [{ address: '192.0.2.10', prefix: 24, dev: undefined }],
          members: { d1: { priority: 150 }, d2: { priority: 100 } },
          preempt: true,
          preempt_delay: 0,
          transport: 'raw',
          unicast: false,
          unicast_peers: [],
          udp_port: 5598,
          garp: { master_delay: 5000, master_repeat: 5, master_refresh: 0, master_refresh_repeat: 1 },
          track: [],
          notify: { timeout: 30_000 },
          resources: [],
        },
      },
      sync_groups: {},
    });
  });

  test('the example at the top of docs/vrrp.md is valid', () => {
    const md = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'vrrp.md'), 'utf8');
    const block = /```yaml\n([\s\S]*?)```/.exec(md);
    assert.ok(block, 'docs/vrrp.md has a yaml example');
    const cfg = vrrpSchema.parse((parseYaml(block[1]!) as { vrrp: unknown }).vrrp);
    assert.deepEqual(Object.keys(cfg.instances), ['VI_1', 'VI_2']);
    assert.deepEqual(cfg.instances.VI_2!.members, { d1: { priority: 150 }, d2: { priority: 100 } });
    assert.deepEqual(cfg.sync_groups, { G1: ['VI_1', 'VI_2'] });
  });

  test('no vrrp: key means no instances', () => {
    assert.deepEqual(vrrpSchema.parse(undefined), { instances: {}, sync_groups: {} });
  });

  test('the example of docs/vrrp.md, every field written', () => {
    const cfg = vrrpSchema.parse({
      instances: {
        VI_1: {
          vrid: 51,
          version: 3,
          interface: 'eth0',
          advert_interval: '100ms',
          virtual_ipaddress: ['192.0.2.10/24', { address: '198.51.100.10/24', dev: 'eth1' }, '192.0.2.11'],
          members: { d1: 150, d2: { priority: 100, interface: 'ens3', source_address: '10.0.0.12' }, d3: null },
          preempt: true,
          preempt_delay: '30s',
          transport: 'raw',
          unicast: true,
          unicast_peers: ['10.0.0.99'],
          garp: { master_delay: '5s', master_repeat: 3, master_refresh: '1m', master_refresh_repeat: 2 },
          track: [
            { type: 'proxy' },
            { type: 'script', name: 'chk_db', command: ['/usr/local/bin/check-db', '--quick'], interval: '2s', timeout: '1s', weight: -20, rise: 2, fall: 3 },
            { type: 'process', process: 'nginx', quorum: 2, weight: -30 },
            { type: 'interface', interface: 'eth1' },
            { type: 'file', path: '/run/palisade/prio-adjust' },
          ],
          notify: { master: ['/usr/local/bin/notify', 'master'], backup: ['/usr/local/bin/notify', 'backup'], fault: ['/usr/local/bin/notify', 'fault'], stop: ['/usr/local/bin/notify', 'stop'], timeout: '10s' },
          resources: [{ name: 'shared-files', start: ['/bin/mount', '/srv/shared'], stop: ['/bin/umount', '/srv/shared'], status: ['/bin/mountpoint', '-q', '/srv/shared'], timeout: '1m' }],
        },
        VI_2: vi({ vrid: 52, virtual_ipaddress: ['192.0.2.20/24'] }),
      },
      sync_groups: { G1: ['VI_1', 'VI_2'] },
    });
    const v = cfg.instances.VI_1!;
    assert.equal(v.advert_interval, 100);
    assert.equal(v.preempt_delay, 30_000);
    assert.deepEqual(v.virtual_ipaddress, [
      { address: '192.0.2.10', prefix: 24, dev: undefined },
      { address: '198.51.100.10', prefix: 24, dev: 'eth1' },
      { address: '192.0.2.11', prefix: 32, dev: undefined },
    ]);
    assert.deepEqual(v.members, { d1: { priority: 150 }, d2: { priority: 100, interface: 'ens3', source_address: '10.0.0.12' }, d3: { priority: 100 } });
    assert.deepEqual(v.track[1], { type: 'script', name: 'chk_db', command: ['/usr/local/bin/check-db', '--quick'], interval: 2000, timeout: 1000, weight: -20, rise: 2, fall: 3 });
    assert.deepEqual(v.track[0], { type: 'proxy', weight: 0 });
    assert.deepEqual(v.track[4], { type: 'file', path: '/run/palisade/prio-adjust', weight: 1 });
    assert.equal(v.notify.timeout, 10_000);
    assert.equal(v.resources[0]!.timeout, 60_000);
    assert.equal(memberInterface(v, 'd1'), 'eth0');
    assert.equal(memberInterface(v, 'd2'), 'ens3');
    assert.equal(syncGroupOf(cfg, 'VI_2'), 'G1');
    assert.equal(syncGroupOf(cfg, 'VI_3'), undefined);
  });

  test('accepted: v2 with whole seconds, the same VRID on another interface, an owner, udp transport', () => {
    const good: unknown[] = [
      { instances: { A: vi({ version: 2, advert_interval: '3s' }) } },
      { instances: { A: vi(), B: vi({ interface: 'eth1', virtual_ipaddress: ['192.0.2.20/24'] }) } },
      { instances: { A: vi({ members: { d1: 255, d2: 100 } }) } },
      { instances: { A: vi({ transport: 'udp', udp_port: 15598 }) } },
      { instances: { A: vi({ advert_interval: '40950ms' }) } },
      { instances: { A: vi({ advert_interval: 0.01 }) } },
      { instances: { A: vi({ interface: undefined, members: { d1: { interface: 'eth0' }, d2: { interface: 'eth1' } } }) } },
    ];
    for (const input of good) {
      const r = vrrpSchema.safeParse(input);
      assert.ok(r.success, `${JSON.stringify(input)}: ${r.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
  });

  const bad: Array<{ name: string; input: unknown; path: string; message: RegExp }> = [
    { name: 'vrid 0', input: { instances: { A: vi({ vrid: 0 }) } }, path: 'instances.A.vrid', message: /^expected a vrid from 1 to 255$/ },
    { name: 'vrid 256', input: { instances: { A: vi({ vrid: 256 }) } }, path: 'instances.A.vrid', message: /1 to 255/ },
    { name: 'vrid missing', input: { instances: { A: vi({ vrid: undefined }) } }, path: 'instances.A.vrid', message: /expected a vrid/ },
    { name: 'version 1', input: { instances: { A: vi({ version: 1 }) } }, path: 'instances.A.version', message: /^expected version: 2 or 3$/ },
    { name: 'an unknown key', input: { instances: { A: vi({ state: 'MASTER' }) } }, path: 'instances.A', message: /Unrecognized key: "state"/ },
    { name: 'an unknown top-level key', input: { instance: {} }, path: '', message: /Unrecognized key: "instance"/ },
    { name: 'priority 0', input: { instances: { A: vi({ members: { d1: { priority: 0 } } }) } }, path: 'instances.A.members.d1.priority', message: /1 to 255/ },
    { name: 'priority 256 as a bare number', input: { instances: { A: vi({ members: { d1: 256 } }) } }, path: 'instances.A.members.d1.priority', message: /1 to 255/ },
    { name: 'two owners', input: { instances: { A: vi({ members: { d1: 255, d2: 255 } }) } }, path: 'instances.A.members.d2.priority', message: /only one member can be the address owner/ },
    { name: 'no members', input: { instances: { A: vi({ members: {} }) } }, path: 'instances.A.members', message: /at least one member/ },
    { name: 'a bad member name', input: { instances: { A: vi({ members: { 'd 1': 100 } }) } }, path: 'instances.A.members.d 1', message: /^expected a node name of letters/ },
    { name: 'members as a list', input: { instances: { A: vi({ members: ['d1', 'd2'] }) } }, path: 'instances.A.members', message: /^expected node names with their priority, e.g. \{ d1: \{ priority: 150 \}/ },
    { name: 'a bad instance name', input: { instances: { 'VI 1': vi() } }, path: 'instances.VI 1', message: /^expected an instance name/ },
    { name: 'an unknown member key', input: { instances: { A: vi({ members: { d1: { prio: 100 } } }) } }, path: 'instances.A.members.d1', message: /Unrecognized key: "prio"/ },
    { name: 'no interface anywhere', input: { instances: { A: vi({ interface: undefined }) } }, path: 'instances.A.members.d1.interface', message: /expected an interface for member d1: set interface: on the instance or on this member/ },
    { name: 'a bad interface name', input: { instances: { A: vi({ interface: 'eth0:1' }) } }, path: 'instances.A.interface', message: /expected an interface name/ },
    { name: 'v2 sub-second interval', input: { instances: { A: vi({ version: 2, advert_interval: '500ms' }) } }, path: 'instances.A.advert_interval', message: /whole seconds from 1s to 255s, got 500ms \(sub-second intervals need version: 3\)/ },
    { name: 'v2 interval 1.5s', input: { instances: { A: vi({ version: 2, advert_interval: 1.5 }) } }, path: 'instances.A.advert_interval', message: /whole seconds/ },
    { name: 'v2 interval 256s', input: { instances: { A: vi({ version: 2, advert_interval: 256 }) } }, path: 'instances.A.advert_interval', message: /1s to 255s/ },
    { name: 'v3 interval in 5ms steps', input: { instances: { A: vi({ advert_interval: '105ms' }) } }, path: 'instances.A.advert_interval', message: /10ms steps from 10ms to 40\.95s, got 105ms/ },
    { name: 'v3 interval above 40.95s', input: { instances: { A: vi({ advert_interval: '41s' }) } }, path: 'instances.A.advert_interval', message: /40\.95s/ },
    { name: 'a bad duration', input: { instances: { A: vi({ advert_interval: 'fast' }) } }, path: 'instances.A.advert_interval', message: /expected a duration/ },
    { name: 'no VIP', input: { instances: { A: vi({ virtual_ipaddress: [] }) } }, path: 'instances.A.virtual_ipaddress', message: /at least one virtual address/ },
    { name: 'a bad VIP', input: { instances: { A: vi({ virtual_ipaddress: ['192.0.2.300/24'] }) } }, path: 'instances.A.virtual_ipaddress.0', message: /expected a virtual address such as 192\.0\.2\.10\/24.*got "192\.0\.2\.300\/24"/ },
    { name: 'a VIP with prefix /33', input: { instances: { A: vi({ virtual_ipaddress: ['192.0.2.1/33'] }) } }, path: 'instances.A.virtual_ipaddress.0', message: /got "192\.0\.2\.1\/33"/ },
    { name: 'an IPv6 VIP', input: { instances: { A: vi({ virtual_ipaddress: ['2001:db8::10/64'] }) } }, path: 'instances.A.virtual_ipaddress.0', message: /expected a virtual address/ },
    { name: 'a bad VIP in object form', input: { instances: { A: vi({ virtual_ipaddress: [{ address: 'x', dev: 'eth1' }] }) } }, path: 'instances.A.virtual_ipaddress.0.address', message: /got "x"/ },
    { name: 'a VIP listed twice', input: { instances: { A: vi({ virtual_ipaddress: ['192.0.2.10/24', '192.0.2.10/32'] }) } }, path: 'instances.A.virtual_ipaddress.1', message: /listed twice \(also virtual_ipaddress\[0\]\)/ },
    { name: 'a VIP in two instances', input: { instances: { A: vi(), B: vi({ vrid: 52 }) } }, path: 'instances.B.virtual_ipaddress.0', message: /already a virtual address of instance A/ },
    { name: 'duplicate vrid on one interface', input: { instances: { A: vi(), B: vi({ virtual_ipaddress: ['192.0.2.20/24'] }) } }, path: 'instances.B.vrid', message: /vrid 51 is already used by instance A on interface eth0 of node d1/ },
    {
      name: 'duplicate vrid through a member override',
      input: { instances: { A: vi(), B: vi({ interface: 'eth1', virtual_ipaddress: ['192.0.2.20/24'], members: { d1: { interface: 'eth1' }, d2: { interface: 'eth0' } } }) } },
      path: 'instances.B.vrid',
      message: /on interface eth0 of node d2/,
    },
    { name: 'preempt_delay with nopreempt', input: { instances: { A: vi({ preempt: false, preempt_delay: '10s' }) } }, path: 'instances.A.preempt_delay', message: /no effect with preempt: false/ },
    { name: 'preempt_delay above 1000s', input: { instances: { A: vi({ preempt_delay: '1h' }) } }, path: 'instances.A.preempt_delay', message: /at most 1000s/ },
    { name: 'unicast_peers without unicast', input: { instances: { A: vi({ unicast_peers: ['10.0.0.9'] }) } }, path: 'instances.A.unicast_peers', message: /needs unicast: true/ },
    { name: 'a bad unicast peer', input: { instances: { A: vi({ unicast: true, unicast_peers: ['peer1'] }) } }, path: 'instances.A.unicast_peers.0', message: /expected an IPv4 address/ },
    { name: 'an unknown transport', input: { instances: { A: vi({ transport: 'tcp' }) } }, path: 'instances.A.transport', message: /expected transport: raw or udp/ },
    { name: 'udp port 0', input: { instances: { A: vi({ transport: 'udp', udp_port: 0 }) } }, path: 'instances.A.udp_port', message: /port number/ },
    { name: 'an unknown tracker', input: { instances: { A: vi({ track: [{ type: 'ping' }] }) } }, path: 'instances.A.track.0.type', message: /expected a tracker with type: proxy, script, process, interface, file/ },
    { name: 'a script as a shell string', input: { instances: { A: vi({ track: [{ type: 'script', command: 'pidof nginx' }] }) } }, path: 'instances.A.track.0.command', message: /never runs through a shell/ },
    { name: 'an empty command', input: { instances: { A: vi({ track: [{ type: 'script', command: [] }] }) } }, path: 'instances.A.track.0.command', message: /at least the program/ },
    { name: 'a weight of 255', input: { instances: { A: vi({ track: [{ type: 'proxy', weight: 255 }] }) } }, path: 'instances.A.track.0.weight', message: /-254 to 254/ },
    { name: 'a process name past /proc comm', input: { instances: { A: vi({ track: [{ type: 'process', process: 'a-very-long-process-name' }] }) } }, path: 'instances.A.track.0.process', message: /at most 15 characters/ },
    { name: 'an unknown tracker key', input: { instances: { A: vi({ track: [{ type: 'interface', interface: 'eth1', rise: 2 }] }) } }, path: 'instances.A.track.0', message: /Unrecognized key: "rise"/ },
    { name: 'notify as a string', input: { instances: { A: vi({ notify: { master: '/bin/notify master' } }) } }, path: 'instances.A.notify.master', message: /argument array/ },
    { name: 'an unknown notify key', input: { instances: { A: vi({ notify: { up: ['/bin/true'] } }) } }, path: 'instances.A.notify', message: /Unrecognized key: "up"/ },
    { name: 'a resource without stop', input: { instances: { A: vi({ resources: [{ name: 'fs', start: ['/bin/mount', '/srv'] }] }) } }, path: 'instances.A.resources.0.stop', message: /argument array/ },
    { name: 'a resource listed twice', input: { instances: { A: vi({ resources: [{ name: 'fs', start: ['/bin/true'], stop: ['/bin/true'] }, { name: 'fs', start: ['/bin/true'], stop: ['/bin/true'] }] }) } }, path: 'instances.A.resources.1.name', message: /listed twice/ },
    { name: 'garp_master_repeat 0', input: { instances: { A: vi({ garp: { master_repeat: 0 } }) } }, path: 'instances.A.garp.master_repeat', message: /./ },
    { name: 'an unknown garp key', input: { instances: { A: vi({ garp: { interval: '1s' } }) } }, path: 'instances.A.garp', message: /Unrecognized key: "interval"/ },
    { name: 'a sync group with an unknown instance', input: { instances: { A: vi() }, sync_groups: { G: ['A', 'B'] } }, path: 'sync_groups.G.1', message: /unknown instance "B"; instances: A/ },
    { name: 'a sync group of one', input: { instances: { A: vi() }, sync_groups: { G: ['A'] } }, path: 'sync_groups.G', message: /at least two instances/ },
    {
      name: 'an instance in two sync groups',
      input: { instances: { A: vi(), B: vi({ vrid: 52, virtual_ipaddress: ['192.0.2.20'] }), C: vi({ vrid: 53, virtual_ipaddress: ['192.0.2.30'] }) }, sync_groups: { G1: ['A', 'B'], G2: ['C', 'A'] } },
      path: 'sync_groups.G2.1',
      message: /A is already in sync group G1/,
    },
    { name: 'an instance twice in one group', input: { instances: { A: vi(), B: vi({ vrid: 52, virtual_ipaddress: ['192.0.2.20'] }) }, sync_groups: { G: ['A', 'B', 'A'] } }, path: 'sync_groups.G.2', message: /listed twice in sync group G/ },
  ];

  for (const row of bad) {
    test(`rejects ${row.name} at its path`, () => {
      const r = vrrpSchema.safeParse(row.input);
      assert.equal(r.success, false, 'accepted');
      const issues = r.error!.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
      const hit = issues.find((i) => i.path === row.path && row.message.test(i.message));
      assert.ok(hit, `expected an issue at ${JSON.stringify(row.path)} matching ${row.message}; got ${JSON.stringify(issues)}`);
    });
  }

  test('the error path is the full path inside a cluster file', () => {
    const wrapper = z.strictObject({ vrrp: vrrpSchema });
    const r = wrapper.safeParse({ vrrp: { instances: { VI_1: vi({ members: { d1: { priority: 300 } } }) } } });
    assert.deepEqual(r.error?.issues[0]?.path, ['vrrp', 'instances', 'VI_1', 'members', 'd1', 'priority']);
  });

  test('advert interval limits as a function', () => {
    assert.equal(advertIntervalProblem(3, 10), undefined);
    assert.equal(advertIntervalProblem(3, 1000), undefined);
    assert.match(advertIntervalProblem(3, 0)!, /10ms/);
    assert.equal(advertIntervalProblem(2, 255_000), undefined);
    assert.match(advertIntervalProblem(2, 100)!, /whole seconds/);
  });
});
