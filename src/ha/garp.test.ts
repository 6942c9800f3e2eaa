import assert from 'node:assert/strict';
import { test } from 'node:test';
import { garpArgv, sendGratuitousArp } from './garp.ts';
import type { CommandResult } from './vip.ts';

function fakeArping(result: CommandResult) {
  const calls: { argv: string[]; timeoutMs: number }[] = [];
  return {
    calls,
    run: (argv: readonly string[], opts: { timeoutMs: number }) => {
      calls.push({ argv: [...argv], timeoutMs: opts.timeoutMs });
      return Promise.resolve(result);
    },
  };
}

const sent: CommandResult = { code: 0, stdout: 'ARPING 10.99.1.100 from 10.99.1.100 eth0\nSent 3 probes (3 broadcast(s))\nReceived 0 response(s)\n', stderr: '' };

test('GARP: COUNT runs of `arping -U -c 1 -I DEV -s VIP VIP` (unsolicited, as keepalived) started at once, 3 by default', async () => {
  assert.deepEqual(garpArgv('10.99.1.100', 'eth0', 5), ['arping', '-U', '-c', '5', '-I', 'eth0', '-s', '10.99.1.100', '10.99.1.100']);
  const a = fakeArping(sent);
  await sendGratuitousArp('10.99.1.100', 'eth0', { run: a.run });
  const one = { argv: ['arping', '-U', '-c', '1', '-I', 'eth0', '-s', '10.99.1.100', '10.99.1.100'], timeoutMs: 3000 };
  assert.deepEqual(a.calls, [one, one, one]);
  const b = fakeArping(sent);
  await sendGratuitousArp('10.99.1.100', 'eth0', { run: b.run, count: 5, timeoutMs: 1500 });
  assert.equal(b.calls.length, 5);
  assert.ok(b.calls.every((c) => c.timeoutMs === 1500));
});

test('GARP: a burst is all under way before any arping finishes (arping lingers a second after its packet)', async () => {
  let started = 0;
  const { promise: gate, resolve: release } = Promise.withResolvers<void>();
  const run = async () => {
    started++;
    await gate;
    return sent;
  };
  const burst = sendGratuitousArp('10.99.1.100', 'eth0', { run, count: 5 });
  await new Promise((r) => setImmediate(r));
  assert.equal(started, 5, 'five ARPs out at once, not one a second');
  release();
  await burst;
});

function untilCancelled(_argv: readonly string[], opts: { signal?: AbortSignal }): Promise<CommandResult> {
  return new Promise((_resolve, reject) => opts.signal?.addEventListener('abort', () => reject(new Error('cancelled'))));
}

test('GARP: cancelled (the VIP is being removed) resolves quietly', async () => {
  const ac = new AbortController();
  const burst = sendGratuitousArp('10.99.1.100', 'eth0', { run: untilCancelled, count: 2, signal: ac.signal });
  ac.abort();
  await burst;
});

test('GARP failures say what to do', async () => {
  const cases: [CommandResult, RegExp][] = [
    [{ code: 2, stdout: '', stderr: 'arping: bind: Cannot assign requested address\n' }, /exited 2: arping: bind: Cannot assign requested address — is 10\.99\.1\.100 configured on eth0\? arping sends from the VIP, so add it first/],
    [{ code: 2, stdout: '', stderr: 'arping: Device eth0 not available.\n' }, /Device eth0 not available\. — no interface eth0 here/],
    [{ code: 2, stdout: '', stderr: 'arping: socket: Operation not permitted\n' }, /arping needs CAP_NET_RAW/],
    [{ code: 1, stdout: '', stderr: '' }, /exited 1: no output$/],
  ];
  for (const [result, re] of cases) {
    await assert.rejects(sendGratuitousArp('10.99.1.100', 'eth0', { run: fakeArping(result).run }), re);
  }
  await assert.rejects(sendGratuitousArp('10.99.1', 'eth0', { run: fakeArping(sent).run }), /not an IPv4 address: "10\.99\.1"/);
  await assert.rejects(sendGratuitousArp('10.99.1.100', 'eth0', { run: fakeArping(sent).run, count: 0 }), RangeError);
  await assert.rejects(sendGratuitousArp('10.99.1.100', 'eth0', { run: fakeArping(sent).run, count: 256 }), RangeError);
});
