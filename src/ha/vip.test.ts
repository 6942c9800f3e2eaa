import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addVip, execCommand, listAddresses, parseVip, removeStale, removeVip } from './vip.ts';
import type { CommandResult, CommandRunner } from './vip.ts';

function ok(stdout = ''): Promise<CommandResult> {
  return Promise.resolve({ code: 0, stdout, stderr: '' });
}

function fail(stderr: string, code = 2): Promise<CommandResult> {
  return Promise.resolve({ code, stdout: '', stderr });
}

/**
 * A stand-in for `ip`: keeps the addresses of one interface, records every argv,
 * answers `ip -j -4 addr show` as iproute2 6.1 does and add/del with its messages.
 */
function fakeIp(initial: { address: string; prefixlen: number; label?: string; secondary?: boolean }[], opts: { stderrOnAdd?: string } = {}) {
  const addrs = initial.map((a) => ({ ...a }));
  const calls: string[][] = [];
  const run: CommandRunner = (argv) => {
    calls.push([...argv]);
    const a = argv.slice(1);
    const dev = a[a.indexOf('dev') + 1];
    if (dev !== 'eth0') return fail(`Cannot find device "${dev}"`, 1);
    if (a[0] === '-j') {
      const addr_info = addrs.map((x) => ({ family: 'inet', local: x.address, prefixlen: x.prefixlen, scope: 'global', ...(x.secondary ? { secondary: true } : {}), label: x.label ?? 'eth0', valid_life_time: 4294967295, preferred_life_time: 4294967295 }));
      return ok(JSON.stringify([{ ifindex: 2, ifname: 'eth0', flags: ['UP'], addr_info }]));
    }
    const [address, prefix] = a[3]!.split('/');
    if (a[2] === 'add') {
      if (opts.stderrOnAdd !== undefined) return fail(opts.stderrOnAdd);
      // the kernel refuses only the same address with the same prefix
      if (addrs.some((x) => x.address === address && x.prefixlen === Number(prefix))) return fail('Error: ipv4: Address already assigned.');
      const label = a.includes('label') ? a[a.indexOf('label') + 1] : undefined;
      addrs.push({ address: address!, prefixlen: Number(prefix), ...(label === undefined ? {} : { label }) });
      return ok();
    }
    if (a[2] === 'del') {
      const i = addrs.findIndex((x) => x.address === address && x.prefixlen === Number(prefix));
      if (i < 0) return fail('Error: ipv4: Address not found.');
      addrs.splice(i, 1);
      return ok();
    }
    return fail(`unexpected ${argv.join(' ')}`);
  };
  return { run, calls, addrs };
}

const primary = { address: '10.99.1.1', prefixlen: 24 };

test('parseVip: a bare address is /32 (as keepalived), a CIDR keeps its prefix, anything else is refused by name', () => {
  assert.deepEqual(parseVip('192.0.2.10'), { address: '192.0.2.10', prefixlen: 32 });
  assert.deepEqual(parseVip('192.0.2.10/24'), { address: '192.0.2.10', prefixlen: 24 });
  for (const bad of ['192.0.2.300', '192.0.2.10/33', 'eth0', '', '192.0.2.10/']) {
    assert.throws(() => parseVip(bad), new RegExp(`not an IPv4 address or CIDR: ${JSON.stringify(bad).replaceAll('.', '\\.').replaceAll('/', '\\/')}`));
  }
});

test('listAddresses: primary first, secondaries and labels as iproute2 reports them', async () => {
  const ip = fakeIp([primary, { address: '10.99.1.101', prefixlen: 32 }, { address: '10.99.1.100', prefixlen: 24, secondary: true, label: 'eth0:vip' }]);
  assert.deepEqual(await listAddresses('eth0', { run: ip.run }), [
    { address: '10.99.1.1', prefixlen: 24, secondary: false },
    { address: '10.99.1.101', prefixlen: 32, secondary: false },
    { address: '10.99.1.100', prefixlen: 24, secondary: true, label: 'eth0:vip' },
  ]);
  assert.deepEqual(ip.calls, [['ip', '-j', '-4', 'addr', 'show', 'dev', 'eth0']]);
  await assert.rejects(listAddresses('eth9', { run: ip.run }), /listing the addresses of eth9: `ip -j -4 addr show dev eth9` exited 1: Cannot find device "eth9"/);
});

test('addVip: one `ip addr add` (argument array, /32 default, optional label), no listing first; adding again is no error', async () => {
  const ip = fakeIp([primary]);
  assert.equal(await addVip('10.99.1.100', 'eth0', { run: ip.run }), true);
  assert.equal(await addVip('10.99.1.100/32', 'eth0', { run: ip.run }), false, 'already there');
  assert.equal(await addVip('10.99.1.102/24', 'eth0', { run: ip.run, label: 'eth0:vip' }), true);
  assert.deepEqual(ip.calls, [
    ['ip', '-4', 'addr', 'add', '10.99.1.100/32', 'dev', 'eth0'],
    ['ip', '-4', 'addr', 'add', '10.99.1.100/32', 'dev', 'eth0'],
    ['ip', '-4', 'addr', 'add', '10.99.1.102/24', 'dev', 'eth0', 'label', 'eth0:vip'],
  ]);
});

test('addVip: "already assigned" from a race is success; "Operation not permitted" names CAP_NET_ADMIN', async () => {
  assert.equal(await addVip('10.99.1.100', 'eth0', { run: fakeIp([primary], { stderrOnAdd: 'Error: ipv4: Address already assigned.' }).run }), false);
  await assert.rejects(
    addVip('10.99.1.100', 'eth0', { run: fakeIp([primary], { stderrOnAdd: 'RTNETLINK answers: Operation not permitted' }).run }),
    /adding VIP 10\.99\.1\.100 to eth0: `ip -4 addr add 10\.99\.1\.100\/32 dev eth0` exited 2: RTNETLINK answers: Operation not permitted — needs CAP_NET_ADMIN/,
  );
});

test('removeVip: removes with the prefix found on the interface; removing a missing one is no error and runs no del', async () => {
  const ip = fakeIp([primary, { address: '10.99.1.100', prefixlen: 24, secondary: true }]);
  assert.equal(await removeVip('10.99.1.100', 'eth0', { run: ip.run }), true);
  assert.equal(await removeVip('10.99.1.100/24', 'eth0', { run: ip.run }), false);
  assert.deepEqual(
    ip.calls.filter((c) => c.includes('del')),
    [['ip', '-4', 'addr', 'del', '10.99.1.100/24', 'dev', 'eth0']],
  );
  assert.deepEqual(ip.addrs, [primary]);
});

test('removeStale: removes exactly the configured VIPs still present, leaves the host\'s own address', async () => {
  const ip = fakeIp([primary, { address: '10.99.1.100', prefixlen: 24, secondary: true }, { address: '10.99.1.50', prefixlen: 24, secondary: true }]);
  assert.deepEqual(await removeStale(['10.99.1.100/24', '10.99.1.101'], 'eth0', { run: ip.run }), ['10.99.1.100/24']);
  assert.deepEqual(
    ip.addrs.map((a) => a.address),
    ['10.99.1.1', '10.99.1.50'],
  );
  assert.deepEqual(await removeStale([], 'eth0', { run: ip.run }), []);
});

test('execCommand: exit codes are results; a missing tool names its Debian package; a hung one is killed at the timeout', async () => {
  assert.deepEqual(await execCommand(['sh', '-c', 'echo out; echo err >&2; exit 3'], { timeoutMs: 5000 }), { code: 3, stdout: 'out\n', stderr: 'err\n' });
  const path = process.env.PATH;
  try {
    process.env.PATH = '/nonexistent';
    await assert.rejects(execCommand(['ip', '-j', 'addr'], { timeoutMs: 5000 }), /`ip` not found on PATH: install it \(Debian package iproute2\)/);
    await assert.rejects(execCommand(['arping', '-V'], { timeoutMs: 5000 }), /`arping` not found on PATH: install it \(Debian package iputils-arping\)/);
  } finally {
    process.env.PATH = path;
  }
  const started = Date.now();
  await assert.rejects(execCommand(['sleep', '5'], { timeoutMs: 200 }), /`sleep 5` did not finish within 200 ms/);
  assert.ok(Date.now() - started < 2000);
});
