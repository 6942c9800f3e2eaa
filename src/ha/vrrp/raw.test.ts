import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { addonPath, explainNativeError, interfaceMac, loadAddon, netlinkAddress, RawSocket } from './raw.ts';
import type { RawPacket } from './raw.ts';

const isRoot = process.getuid?.() === 0;

/** An error as the addon throws it. */
function native(code: string, syscall: string, message: string): Error {
  return Object.assign(new Error(message), { code, syscall });
}

test('the addon is built (npm ci runs scripts/build-native.mjs) and loads', () => {
  assert.ok(addonPath()?.endsWith('build/Release/vrrp_socket.node'), 'build/Release/vrrp_socket.node exists: run `node scripts/build-native.mjs`');
  const addon = loadAddon();
  assert.deepEqual(Object.keys(addon).toSorted(), ['addr', 'close', 'conntrack', 'frame', 'hwaddr', 'join', 'leave', 'open', 'poll', 'recv', 'send']);
});

test('native errors get a hint an operator can act on', () => {
  const cases: [Error, RegExp][] = [
    [native('EPERM', 'socket', 'socket(AF_INET, SOCK_RAW, 112): EPERM (Operation not permitted)'), /^ctx: socket\(AF_INET, SOCK_RAW, 112\): EPERM \(Operation not permitted\) — needs CAP_NET_RAW: run as root or give the process CAP_NET_RAW \(systemd: AmbientCapabilities=CAP_NET_RAW\), or use `transport: udp`$/],
    [native('EPERM', 'setsockopt', 'setsockopt(SO_BINDTODEVICE): EPERM (Operation not permitted)'), /needs CAP_NET_RAW/],
    [native('EPERM', 'sendmsg', 'sendmsg(40 bytes to 224.0.0.18 from 10.0.0.1): EPERM (Operation not permitted)'), /firewall rule .* may reject IP protocol 112/],
    [native('ENODEV', 'if_nametoindex', 'if_nametoindex("eth9"): ENODEV (No such device)'), /no such network interface here \(check `interface` in the cluster file and `ip link`\)/],
    [native('EINVAL', 'sendmsg', 'sendmsg(40 bytes to 224.0.0.18 from 192.0.2.1): EINVAL (Invalid argument)'), /the source address must be configured on this host/],
    [native('ENETUNREACH', 'sendmsg', 'sendmsg(40 bytes to 10.1.1.1 from 192.0.2.1): ENETUNREACH (Network is unreachable)'), /the source address must be configured on this host/],
    [native('ENETUNREACH', 'sendmsg', 'sendmsg(40 bytes to 10.1.1.1): ENETUNREACH (Network is unreachable)'), /is the interface up and does it have an IPv4 address\?/],
    [native('EIO', 'recvmsg', 'recvmsg: EIO (Input/output error)'), /^ctx: recvmsg: EIO \(Input\/output error\)$/],
  ];
  for (const [err, re] of cases) {
    const e = explainNativeError(err, 'ctx');
    assert.match(e.message, re);
    assert.equal(e.cause, err);
  }
});

test('opening on an interface that does not exist says so, with or without privileges', () => {
  assert.throws(
    () => RawSocket.open({ protocol: 112, interface: 'palnosuch0' }),
    /opening a raw socket for IP protocol 112 on palnosuch0: if_nametoindex\("palnosuch0"\): ENODEV \(No such device\) — no such network interface here/,
  );
  assert.throws(() => RawSocket.open({ protocol: 0, interface: 'lo' }), /protocol must be an IP protocol number, 1-255/);
  assert.throws(() => RawSocket.open({ protocol: 112, interface: 'x'.repeat(20) }), /interface name is too long/);
});

test('on loopback: what we send arrives with TTL 255, TOS 0xc0, our source, the ingress interface (root) — or EPERM names CAP_NET_RAW', async () => {
  if (!isRoot) {
    assert.throws(() => RawSocket.open({ protocol: 112, interface: 'lo' }), /EPERM .* needs CAP_NET_RAW/);
    return;
  }
  const s = RawSocket.open({ protocol: 112, interface: 'lo' });
  try {
    assert.ok(s.fd > 2);
    s.join('224.0.0.18');
    s.join('224.0.0.18'); // idempotent
    const marker = Buffer.from(`palisade-unit-${process.pid}-${Date.now()}`);
    const got = new Promise<RawPacket>((resolve) => s.onPacket((p) => p.payload.equals(marker) && resolve(p)));
    assert.equal(s.send(marker, '127.0.0.1', '127.0.0.1'), marker.length);
    const p = await got;
    assert.deepEqual({ ...p, payload: p.payload.toString() }, { payload: marker.toString(), src: '127.0.0.1', dst: '127.0.0.1', ttl: 255, tos: 0xc0, ifindex: s.ifindex, truncated: false });
    assert.throws(() => s.send(new Uint8Array(4), '127.0.0.1', '192.0.2.77'), /sendmsg\(4 bytes to 127\.0\.0\.1 from 192\.0\.2\.77\): (EINVAL|ENETUNREACH) .* the source address must be configured on this host/);
    assert.throws(() => s.send(new Uint8Array(4), 'not-an-ip'), /destination must be an IPv4 address, got "not-an-ip"/);
    assert.throws(() => s.join('10.0.0.300'), /group must be an IPv4 address/);
    s.leave('224.0.0.18');
    s.leave('224.0.0.18'); // idempotent
  } finally {
    s.close();
    s.close();
  }
  assert.equal(s.closed, true);
  assert.throws(() => s.send(new Uint8Array(1), '127.0.0.1'), /the VRRP socket is closed/);
});

test('without CAP_NET_RAW (a child run as nobody) opening fails with EPERM and names the capability', { skip: !isRoot || !existsSync('/usr/bin/setpriv') ? 'needs root to drop to nobody (the previous test covers the unprivileged case itself)' : false }, () => {
  const script = `
    const { RawSocket } = await import(${JSON.stringify(new URL('./raw.ts', import.meta.url).href)});
    try { RawSocket.open({ protocol: 112, interface: 'lo' }); console.log('opened'); } catch (e) { console.log(e.message); }
  `;
  const out = execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
  assert.match(out, /opening a raw socket for IP protocol 112 on lo: socket\(AF_INET, SOCK_RAW, 112\): EPERM \(Operation not permitted\) — needs CAP_NET_RAW/);
});

test('sockets are released when a worker thread ends (polled, closed or not) and when a handle is garbage-collected unclosed', { skip: isRoot ? false : 'opening raw sockets needs root' }, () => {
  // in a child: a crash here (a uv_close callback into an unloaded addon) must not take the test runner down
  const script = `
    import { Worker } from 'node:worker_threads';
    import { readdirSync } from 'node:fs';
    const addon = ${JSON.stringify(addonPath())};
    for (const mode of ['poll', 'close', 'exit-while-polling', 'exit-after-close']) {
      const w = new Worker(\`
        const a = require(\${JSON.stringify(addon)});
        const s = a.open(112, 'lo');
        a.poll(s.handle, () => { while (a.recv(s.handle)) {} });
        a.send(s.handle, Buffer.from('x'), '127.0.0.1');
        if ('\${mode}' === 'close' || '\${mode}' === 'exit-after-close') a.close(s.handle);
        if ('\${mode}'.startsWith('exit')) process.exit(0);
        require('node:worker_threads').parentPort.postMessage('ok');
      \`, { eval: true, execArgv: [] });
      if (!mode.startsWith('exit')) await new Promise((r) => w.once('message', r));
      await w.terminate();
    }
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    const a = (await import('node:module')).createRequire(import.meta.url)(addon);
    for (let i = 0; i < 500; i++) a.open(112, 'lo');
    for (let i = 0; i < 5 && fds() > before + 10; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); }
    console.log(JSON.stringify({ leaked: fds() - before }));
  `;
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  const { leaked } = JSON.parse(out) as { leaked: number };
  assert.ok(leaked < 10, `${leaked} raw sockets still open after GC`);
});

test('netlink, MAC and frame calls: bad arguments are refused by name; a missing interface says so', () => {
  const addon = loadAddon();
  assert.throws(() => addon.addr('put' as 'add', 'lo', '127.0.0.9', 32), /op must be "add" or "del"/);
  assert.throws(() => addon.addr('add', 'lo', 'not-an-ip', 32), /address must be an IPv4 address/);
  assert.throws(() => addon.addr('add', 'lo', '127.0.0.9', 33), /prefixlen must be 0-32/);
  assert.throws(() => addon.frame('lo', new Uint8Array(10)), /14-1514 bytes/);
  assert.throws(() => netlinkAddress('add', '127.0.0.9', 32, 'nosuch0'), (err: Error & { code?: string }) => err.code === 'PALISADE_HA_VIP' && /nosuch0.*no interface nosuch0 here/.test(err.message));
  assert.throws(() => interfaceMac('nosuch0'), (err: Error & { code?: string }) => err.code === 'PALISADE_HA_GARP' && /nosuch0/.test(err.message));
  assert.match(interfaceMac('lo'), /^00:00:00:00:00:00$/);
});

test('conntrack: bad rows are refused at the call; a dump resolves off the loop with 16 counters per row (root), or rejects with EPERM', async () => {
  const addon = loadAddon();
  assert.throws(() => addon.conntrack(new Uint32Array(4) as never), /rows must be a Uint32Array of \[protocol, vip, vport, server, sport\] rows/);
  assert.throws(() => addon.conntrack(new Uint8Array(5) as never), /rows must be a Uint32Array/);
  assert.throws(() => addon.conntrack(Uint32Array.of(6, 1, 70_000, 2, 80)), /ports 0-65535/);
  // one row that matches nothing here (192.0.2.10:80 → 10.0.0.1:8080), and the same row again
  const dump = addon.conntrack(Uint32Array.of(6, 0xc000020a, 80, 0x0a000001, 8080, 6, 0xc000020a, 80, 0x0a000001, 8080));
  assert.ok(dump instanceof Promise);
  try {
    const a = await dump;
    assert.equal(a.counts.length, 32);
    assert.ok(a.counts.every((n) => n === 0));
    assert.deepEqual([a.dumps, a.filtered, a.malformed], [1, true, 0]);
    assert.ok(a.entries >= 0 && a.elapsedMs >= 0);
  } catch (err) {
    assert.equal(process.getuid?.() === 0, false, `as root the dump works: ${(err as Error).message}`);
    assert.equal((err as { code?: string }).code, 'EPERM');
  }
});
