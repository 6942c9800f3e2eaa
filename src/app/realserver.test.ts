import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClusterText } from '../config/load.ts';
import { drVipsFor, realserverSysctls } from './realserver.ts';

test('the ARP sysctls: all, lo and each interface, arp_ignore 1 and arp_announce 2', () => {
  assert.deepEqual(realserverSysctls(['eth0', 'lo']), {
    '/proc/sys/net/ipv4/conf/all/arp_ignore': '1',
    '/proc/sys/net/ipv4/conf/all/arp_announce': '2',
    '/proc/sys/net/ipv4/conf/lo/arp_ignore': '1',
    '/proc/sys/net/ipv4/conf/lo/arp_announce': '2',
    '/proc/sys/net/ipv4/conf/eth0/arp_ignore': '1',
    '/proc/sys/net/ipv4/conf/eth0/arp_announce': '2',
  });
});

test('a host is the real server of the mode dr services that list it, not of nat or proxy ones', () => {
  const { config } = parseClusterText(
    `services:
  a: { protocol: tcp, mode: dr, listen: 192.0.2.20:554, kernel: { interface: eth0 }, backends: [10.0.0.31:554, 10.0.0.32:554] }
  b: { protocol: udp, mode: dr, listen: 192.0.2.21:554, kernel: { interface: eth0 }, backends: [10.0.0.32:554] }
  c: { protocol: tcp, mode: nat, listen: 192.0.2.22:80, backends: [10.0.0.31:80] }
  d: { protocol: tcp, listen: 192.0.2.23:80, backends: [10.0.0.31:80] }
`,
    'c.yaml',
    { env: {} },
  );
  assert.deepEqual(drVipsFor(config, ['10.0.0.31']), ['192.0.2.20']);
  assert.deepEqual(drVipsFor(config, ['10.0.0.32']), ['192.0.2.20', '192.0.2.21']);
  assert.deepEqual(drVipsFor(config, ['10.0.0.99']), []);
});
