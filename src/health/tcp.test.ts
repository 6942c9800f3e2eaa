/** The tcp check against real sockets on 127.0.0.1. */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { healthSchema, type TcpHealthConfig } from '../config/health-schema.ts';
import { createTcpCheck } from './tcp.ts';
import { listen, loopback, refusedPort } from './testing.ts';

const tcp = (o: Record<string, unknown> = {}) => createTcpCheck(healthSchema.parse({ type: 'tcp', ...o }) as TcpHealthConfig);
const within = (ms: number) => AbortSignal.timeout(ms);

describe('tcp check', () => {
  test('connect only: L4_OK', async (t) => {
    const port = await listen(t, createServer((s) => s.on('error', () => {})));
    const r = await tcp().run(loopback(port), within(2000));
    assert.deepEqual({ ok: r.ok, status: r.status }, { ok: true, status: 'L4_OK' });
  });

  test('a refused port: L4_CONNECT_REFUSED', async () => {
    const r = await tcp().run(loopback(await refusedPort()), within(2000));
    assert.deepEqual({ ok: r.ok, status: r.status }, { ok: false, status: 'L4_CONNECT_REFUSED' });
  });

  test('a server that accepts but never answers: L7_TIMEOUT when a reply is expected', async (t) => {
    const port = await listen(t, createServer((s) => s.on('error', () => {})));
    const started = performance.now();
    const r = await tcp({ send: 'PING\r\n', expect: '+PONG' }).run(loopback(port), within(200));
    assert.equal(r.status, 'L7_TIMEOUT');
    assert.ok(performance.now() - started >= 150, 'waited for the timeout');
  });

  test('send / expect (HAProxy tcp-check), also across several packets', async (t) => {
    const port = await listen(
      t,
      createServer((s) => {
        s.on('error', () => {});
        s.once('data', (d) => {
          if (String(d) !== 'PING\r\n') return void s.end('-ERR\r\n');
          s.write('+PO');
          setTimeout(() => s.end('NG\r\n'), 20);
        });
      }),
    );
    assert.equal((await tcp({ send: 'PING\r\n', expect: '+PONG' }).run(loopback(port), within(2000))).status, 'L7_OK');
    assert.equal((await tcp({ send_hex: '50 49 4e 47 0d 0a', expect_hex: '2b504f4e47' }).run(loopback(port), within(2000))).status, 'L7_OK');
    const wrong = await tcp({ send: 'HELLO\r\n', expect: '+PONG' }).run(loopback(port), within(2000));
    assert.equal(wrong.status, 'L7_EXPECT');
    assert.match(wrong.detail ?? '', /closed without "\+PONG"/);
  });

  test('a banner without sending (SMTP, SSH)', async (t) => {
    const port = await listen(t, createServer((s) => s.end('220 mail.test ESMTP\r\n')));
    assert.equal((await tcp({ expect: '220 ' }).run(loopback(port), within(2000))).status, 'L7_OK');
  });

  test('a reply that never contains the expectation is read at most 64 KiB', async (t) => {
    const port = await listen(
      t,
      createServer((s) => {
        s.on('error', () => {});
        const junk = Buffer.alloc(8192, 'x');
        const pump = () => {
          while (!s.destroyed && s.write(junk));
          if (!s.destroyed) s.once('drain', pump);
        };
        pump();
      }),
    );
    const r = await tcp({ expect: 'OK' }).run(loopback(port), within(5000));
    assert.equal(r.status, 'L7_EXPECT');
    assert.match(r.detail ?? '', /first 65536 bytes/);
  });
});
