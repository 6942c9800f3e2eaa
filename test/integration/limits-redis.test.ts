/**
 * limit_req shared through a real Redis (Debian redis-server, started here on a
 * loopback port and stopped by its PID): two proxies, one bucket per client.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseRaw, freePort, rawRequest, startBackend, startProxy, waitFor, type ProxyHandle } from '../helpers/http.ts';

const REDIS = '/usr/bin/redis-server';

function cluster(backend: string, redisPort: number): string {
  return `
log: { level: warn, access: false }
services:
  www:
    listen: 127.0.0.1:0
    backends: [ ${backend} ]
    limits:
      store: redis
      redis: { address: 127.0.0.1:${redisPort}, prefix: test${redisPort} }
      limit_req: { rate: 10r/s, burst: 5, nodelay: true }
`;
}

async function status(p: ProxyHandle, path = '/'): Promise<number> {
  return parseRaw((await rawRequest(p.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)).text).status;
}

function shared(p: ProxyHandle) {
  return p.daemon.proxy!.snapshot()[0]!.limits!;
}

test('store: redis: two proxies share one leaky bucket per client; Redis gone, requests pass (fail open) and say so', { skip: existsSync(REDIS) ? false : 'redis-server is not installed (scripts/setup-test-host.sh)', timeout: 60_000 }, async (t) => {
  const port = await freePort();
  const redis = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const stopRedis = async (): Promise<void> => {
    if (redis.exitCode !== null || redis.signalCode !== null) return;
    redis.kill('SIGTERM');
    await new Promise((r) => redis.once('exit', r));
  };
  t.after(stopRedis);
  const b = await startBackend(t, 'a');
  const p1 = await startProxy(t, cluster(b.address, port));
  const p2 = await startProxy(t, cluster(b.address, port));
  await waitFor(() => shared(p1).shared?.ready === true && shared(p2).shared?.ready === true, 10_000, 'both proxies connected to redis');

  let ok = 0;
  let limited = 0;
  const start = performance.now();
  let last = start;
  for (let i = 0; performance.now() - start < 2_000; i++) {
    const s = await status(i % 2 === 0 ? p1 : p2);
    last = performance.now();
    if (s === 200) ok++;
    else if (s === 429) limited++;
    else assert.fail(`status ${s}`);
  }
  const seconds = (last - start) / 1000;
  const expected = 1 + 5 + Math.floor(10 * seconds);
  t.diagnostic(`shared limit_req over two proxies: ${ok} passed, ${limited} refused in ${seconds.toFixed(2)} s (one bucket: ${expected})`);
  assert.ok(Math.abs(ok - expected) <= 2, `passed ${ok}: one shared bucket lets ${expected} through, two separate ones would let ${2 * expected}`);
  assert.ok(shared(p1).refused.req > 0 && shared(p2).refused.req > 0, 'both proxies refused');
  assert.equal(shared(p1).shared!.failOpen + shared(p2).shared!.failOpen, 0);

  await stopRedis();
  await waitFor(() => shared(p1).shared?.ready === false, 5_000, 'redis seen gone');
  for (let i = 0; i < 20; i++) assert.equal(await status(p1), 200, 'without Redis, limit_req fails open');
  assert.ok(shared(p1).shared!.failOpen >= 20);
  const lines = p1.logs.filter((l) => l['reason'] !== undefined && String(l['msg']).startsWith('limit_req store unavailable'));
  assert.ok(lines.length >= 1 && lines.length <= 3, `the outage is logged, sampled (${lines.length} lines for 20 requests)`);
});
