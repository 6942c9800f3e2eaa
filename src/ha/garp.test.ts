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

test('GARP runs `arping -U -c COUNT -I DEV -s VIP VIP` (unsolicited, as keepalived), 3 by default, timeout after count seconds + 2', async () => {
  assert.deepEqual(garpArgv('10.99.1.100', 'eth0', 5), ['arping', '-U', '-c', '5', '-I', 'eth0', '-s', '10.99.1.100', '10.99.1.100']);
  const a = fakeArping(sent);
  await sendGratuitousArp('10.99.1.100', 'eth0', { run: a.run });
  await sendGratuitousArp('10.99.1.100', 'eth0', { run: a.run, count: 1, timeoutMs: 1500 });
  assert.deepEqual(a.calls, [
    { argv: ['arping', '-U', '-c', '3', '-I', 'eth0', '-s', '10.99.1.100', '10.99.1.100'], timeoutMs: 5000 },
    { argv: ['arping', '-U', '-c', '1', '-I', 'eth0', '-s', '10.99.1.100', '10.99.1.100'], timeoutMs: 1500 },
  ]);
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
});
