/** Agent replies (HAProxy agent-check) and the agent check against real sockets. */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { agentResult, createAgentCheck, parseAgentReply } from './agent.ts';
import { listen, loopback, refusedPort } from './testing.ts';

/** The parts of the check result an agent reply decides. */
function meaning(s: string) {
  const p = parseAgentReply(s);
  assert.notEqual(typeof p, 'string');
  const { status, ok, agentAdmin, weight } = agentResult(p as Exclude<typeof p, string>);
  return { status, ok, agentAdmin, weight };
}

describe('agent reply parsing', () => {
  const table: Array<[reply: string, expected: ReturnType<typeof parseAgentReply>]> = [
    ['up\n', { state: 'up' }],
    ['ready\n', { admin: 'ready' }],
    ['drain\n', { admin: 'drain' }],
    ['maint\r\n', { admin: 'maint' }],
    ['down\n', { state: 'down', message: 'down' }],
    ['fail\n', { state: 'down', message: 'fail' }],
    ['stopped #maintenance window\n', { state: 'down', message: 'maintenance window' }],
    ['75%\n', { percent: 75 }],
    ['weight:50%\n', { percent: 50 }],
    ['up 75%\n', { state: 'up', percent: 75 }],
    ['up, ready, 100%\n', { state: 'up', admin: 'ready', percent: 100 }],
    ['UP\tDRAIN\n', { state: 'up', admin: 'drain' }],
    ['down drain 0% # disk full\n', { state: 'down', admin: 'drain', percent: 0, message: 'disk full' }],
    ['up maxconn:30 xyz\n', { state: 'up' }], // maxconn understood, unknown words ignored
    ['up\nsecond line ignored', { state: 'up' }],
    ['up', { state: 'up' }], // closed without newline
    ['', 'empty reply'],
    ['\n', 'empty reply'],
    ['hello world\n', 'unrecognised reply "hello world"'],
    ['50\n', 'unrecognised reply "50"'],
    ['2000%\n', 'weight 2000% is above 1000%'],
  ];
  for (const [reply, expected] of table) {
    test(JSON.stringify(reply), () => assert.deepEqual(parseAgentReply(reply), expected));
  }

  test('what a reply means for the check', () => {
    assert.deepEqual(meaning('up'), { status: 'AGENT_OK', ok: true, agentAdmin: undefined, weight: undefined });
    assert.deepEqual(meaning('drain'), { status: 'AGENT_DRAIN', ok: true, agentAdmin: 'drain', weight: undefined });
    assert.deepEqual(meaning('maint'), { status: 'AGENT_MAINT', ok: true, agentAdmin: 'maint', weight: undefined });
    assert.deepEqual(meaning('down 10%'), { status: 'AGENT_DOWN', ok: false, agentAdmin: undefined, weight: { percent: 10 } });
    assert.deepEqual(meaning('ready weight:50%'), { status: 'AGENT_OK', ok: true, agentAdmin: 'ready', weight: { percent: 50 } });
  });
});

/** An agent that answers each connection with the next reply of `replies`; with `received`, only after a request line. */
async function agent(t: Parameters<typeof listen>[0], replies: string[], received?: string[]) {
  let i = 0;
  return listen(
    t,
    createServer((s) => {
      s.on('error', () => {});
      const reply = replies[i++ % replies.length] ?? '';
      if (!received) return void s.end(reply);
      s.once('data', (d) => {
        received.push(String(d));
        s.end(reply);
      });
    }),
  );
}

describe('agent check', () => {
  test('an agent answering drain, then weight:50%', async (t) => {
    const port = await agent(t, ['drain\n', 'weight:50%\n']);
    const check = createAgentCheck({ send: undefined });
    const a = await check.run(loopback(port), AbortSignal.timeout(2000));
    assert.deepEqual({ ok: a.ok, status: a.status, agentAdmin: a.agentAdmin }, { ok: true, status: 'AGENT_DRAIN', agentAdmin: 'drain' });
    const b = await check.run(loopback(port), AbortSignal.timeout(2000));
    assert.deepEqual({ ok: b.ok, status: b.status, weight: b.weight }, { ok: true, status: 'AGENT_OK', weight: { percent: 50 } });
  });

  test('down with a message; send is written first (HAProxy agent-send)', async (t) => {
    const received: string[] = [];
    const port = await agent(t, ['down #disk full\n'], received);
    const r = await createAgentCheck({ send: 'status\n' }).run(loopback(port), AbortSignal.timeout(2000));
    assert.deepEqual({ ok: r.ok, status: r.status, detail: r.detail }, { ok: false, status: 'AGENT_DOWN', detail: 'disk full' });
    assert.equal(received.join(''), 'status\n');
  });

  test('garbage: L7_RESPONSE; silence: L7_TIMEOUT; refused: L4_CONNECT_REFUSED', async (t) => {
    const garbage = await agent(t, ['<html>\n']);
    const silent = await listen(t, createServer((s) => s.on('error', () => {})));
    assert.equal((await createAgentCheck({ send: undefined }).run(loopback(garbage), AbortSignal.timeout(2000))).status, 'L7_RESPONSE');
    assert.equal((await createAgentCheck({ send: undefined }).run(loopback(silent), AbortSignal.timeout(200))).status, 'L7_TIMEOUT');
    assert.equal((await createAgentCheck({ send: undefined }).run(loopback(await refusedPort()), AbortSignal.timeout(2000))).status, 'L4_CONNECT_REFUSED');
  });
});
