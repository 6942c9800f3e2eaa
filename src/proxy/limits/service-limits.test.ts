import { test } from 'node:test';
import assert from 'node:assert/strict';
import { limitsSchema, type LimitsConfig } from '../../config/limits-schema.ts';
import { LogSampler } from '../../core/log-sampler.ts';
import { REFUSE_CLOSE, ServiceLimits, type LimitedConn } from './service-limits.ts';

function limits(cfg: unknown): ServiceLimits {
  return new ServiceLimits(limitsSchema.parse(cfg) as LimitsConfig);
}

function conn(addr: string): LimitedConn {
  return { remoteAddress: addr, limitEntry: null, limitCounted: false, limitTrusted: false };
}

test('limit_conn per client: the third from one address is refused, another address gets in, a close frees a slot', () => {
  const l = limits({ limit_conn: { per_client: 2 } });
  const a = [conn('10.0.0.1'), conn('10.0.0.1'), conn('10.0.0.1')];
  assert.deepEqual(a.map((c) => l.open(c)), [0, 0, 503]);
  assert.equal(l.open(conn('10.0.0.2')), 0);
  assert.equal(l.lastReason, 'limit_conn');
  l.close(a[0]!);
  l.close(a[0]!); // twice is harmless
  assert.equal(l.open(conn('10.0.0.1')), 0);
  assert.deepEqual(l.snapshot().refused, { conn: 1, connTotal: 0, req: 0, deny: 0 });
  assert.equal(l.snapshot().connections, 3);
});

test('limit_conn total and status close', () => {
  const l = limits({ limit_conn: { total: 2, status: 'close' } });
  assert.deepEqual([conn('a'), conn('b'), conn('c')].map((c) => l.open(c)), [0, 0, REFUSE_CLOSE]);
  assert.equal(l.lastReason, 'limit_conn_total');
});

test('without limit_req, a client without connections leaves the table', () => {
  const l = limits({ limit_conn: { per_client: 5 } });
  const c = conn('10.0.0.1');
  l.open(c);
  assert.equal(l.table.size, 1);
  l.close(c);
  assert.equal(l.table.size, 0);
});

test('allow / deny: deny wins, a non-empty allow list admits only its ranges', () => {
  const l = limits({ allow: ['10.0.0.0/8'], deny: ['10.6.6.0/24'] });
  assert.deepEqual(['10.1.1.1', '10.6.6.6', '192.0.2.1', '::ffff:10.2.2.2'].map((a) => l.open(conn(a))), [0, 403, 403, 0]);
  assert.equal(l.refused.deny, 2);
});

test('behind a trusted proxy: access and limit_req by the X-Forwarded-For client, limit_conn not per client', () => {
  const l = limits({ real_ip_from: ['127.0.0.1'], deny: ['203.0.113.0/24'], limit_conn: { per_client: 1 }, limit_req: { rate: '1r/s' } });
  const p1 = conn('127.0.0.1');
  const p2 = conn('127.0.0.1');
  assert.equal(l.open(p1), 0);
  assert.equal(l.open(p2), 0, 'a trusted proxy is not limited per client');
  assert.equal(p1.limitTrusted, true);
  assert.equal(l.request(p1, l.clientOf(p1, '203.0.113.9'), 0), -403);
  const a = l.clientOf(p1, '198.51.100.1');
  assert.equal(a, '198.51.100.1');
  assert.equal(l.request(p1, a, 0), 0);
  assert.equal(l.request(p2, a, 10), -429, 'the same client through another connection shares its bucket');
  assert.equal(l.request(p2, l.clientOf(p2, '198.51.100.2'), 10), 0, 'another client is not');
  const direct = conn('192.0.2.1');
  l.open(direct);
  assert.equal(l.clientOf(direct, '198.51.100.1'), '192.0.2.1', 'an untrusted peer cannot choose its address');
});

test('limit_req status 503 and delay counting', () => {
  const l = limits({ limit_req: { rate: '10r/s', burst: 1, status: 503 } });
  const c = conn('a');
  assert.deepEqual([0, 0, 0].map((t) => l.request(c, 'a', t)), [0, 100, -503]);
  assert.equal(l.delayed, 1);
});

test('the table stays bounded under a spray of addresses', () => {
  const l = limits({ table_size: 100, limit_req: { rate: '1r/s' } });
  const c = conn('x');
  for (let i = 0; i < 5_000; i++) l.request(c, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, i);
  const s = l.snapshot();
  assert.equal(s.clients, 100);
  assert.equal(s.evictions, 4_900);
});

test('log sampler: the first, then one per interval per reason, with the count left out', () => {
  const s = new LogSampler(1000);
  const seq: [string, number][] = [['a', 0], ['a', 10], ['b', 20], ['a', 500], ['a', 1000], ['a', 1500], ['a', 2500]];
  assert.deepEqual(seq.map(([r, t]) => s.take(r, t)), [0, -1, 0, -1, 2, -1, 1]);
});
