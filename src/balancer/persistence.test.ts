import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { schedulerSchema } from '../config/scheduler-schema.ts';
import { ManualClock } from '../core/clock.ts';
import { makeBackends } from './conformance.ts';
import { createScheduler } from './index.ts';
import { PersistenceTable } from './persistence.ts';
import type { PickContext } from './types.ts';

const ctx = (client: string): PickContext => ({ client, clientPort: 5000, destination: '192.0.2.10:80' });

function setup(opts: { timeout?: number; granularity?: string | number; granularityV6?: number; maxEntries?: number } = {}) {
  const clock = new ManualClock(0);
  const bs = makeBackends([1, 1, 1]);
  // rr: without persistence each new connection would go to the next backend.
  const s = createScheduler(schedulerSchema.parse('rr'), bs);
  const table = new PersistenceTable({ timeout: opts.timeout ?? 300_000, clock, ...opts });
  return { clock, bs, s, table };
}

describe('source-IP persistence (ipvsadm -p)', () => {
  it('keeps a client on its backend while it returns within the timeout, refreshed by each use', () => {
    const { clock, s, table } = setup({ timeout: 120_000 });
    const first = table.pick(ctx('198.51.100.7'), s);
    for (let k = 0; k < 10; k++) {
      clock.advance(100_000); // < timeout since the last use
      assert.equal(table.pick(ctx('198.51.100.7'), s), first);
    }
  });

  it('forgets a client timeout after its last use', () => {
    const { clock, s, bs, table } = setup({ timeout: 120_000 });
    assert.equal(table.pick(ctx('198.51.100.7'), s), bs[0]);
    assert.equal(table.pick(ctx('198.51.100.8'), s), bs[1]);
    clock.advance(120_001);
    assert.equal(table.lookup('198.51.100.7'), undefined);
    assert.equal(table.pick(ctx('198.51.100.7'), s), bs[2], 'scheduled again: rr moved on');
  });

  it('moves a client whose backend went down, and remembers the new one', () => {
    const { s, bs, table } = setup();
    assert.equal(table.pick(ctx('198.51.100.7'), s), bs[0]);
    s.down(bs[0]!);
    const moved = table.pick(ctx('198.51.100.7'), s);
    assert.notEqual(moved, bs[0]);
    s.up(bs[0]!);
    assert.equal(table.pick(ctx('198.51.100.7'), s), moved, 'stays on the new backend');
  });

  it('moves a client whose backend is full, at weight 0, or rejected by accept', () => {
    const { s, bs, table } = setup();
    assert.equal(table.pick(ctx('10.1.1.1'), s), bs[0]);
    s.weight(bs[0]!, 0);
    assert.notEqual(table.pick(ctx('10.1.1.1'), s), bs[0]);
    const now = table.lookup('10.1.1.1')!;
    assert.notEqual(table.pick({ ...ctx('10.1.1.1'), accept: (b) => b !== now }, s), now);
  });

  it('granularity 255.255.255.0 groups a /24', () => {
    const { s, table } = setup({ granularity: '255.255.255.0' });
    const b = table.pick(ctx('203.0.113.1'), s);
    for (let last = 0; last < 256; last++) assert.equal(table.pick(ctx(`203.0.113.${last}`), s), b);
    assert.equal(table.size, 1);
    assert.notEqual(table.pick(ctx('203.0.114.1'), s), b);
    assert.equal(table.size, 2);
  });

  it('IPv6 granularity is a prefix length; IPv4-mapped addresses count as IPv4', () => {
    const { s, table } = setup({ granularityV6: 64, granularity: 24 });
    const b = table.pick(ctx('2001:db8:1:2::1'), s);
    assert.equal(table.pick(ctx('2001:db8:1:2:ffff::9'), s), b);
    assert.notEqual(table.pick(ctx('2001:db8:1:3::1'), s), b);
    const v4 = table.pick(ctx('192.0.2.5'), s);
    assert.equal(table.pick(ctx('::ffff:192.0.2.77'), s), v4);
    assert.equal(table.keyOf('::ffff:192.0.2.77'), table.keyOf('192.0.2.0'));
  });

  it('stays within max_entries under 100k unique clients', () => {
    const { s, table } = setup({ maxEntries: 1000 });
    for (let k = 0; k < 100_000; k++) {
      table.pick(ctx(`10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`), s);
      assert.ok(table.size <= 1000);
    }
    assert.equal(table.size, 1000);
    // The most recent clients are the ones kept.
    assert.ok(table.lookup('10.1.134.159') !== undefined); // k = 99999
    assert.equal(table.lookup('10.0.0.0'), undefined);
  });

  it('forget(backend) drops its clients (drain)', () => {
    const { s, bs, table } = setup();
    for (let k = 0; k < 30; k++) table.pick(ctx(`10.0.0.${k}`), s);
    assert.equal(table.forget(bs[1]!), 10);
    assert.equal(table.size, 20);
  });

  it('carries entries across a reload for backends whose id is unchanged', () => {
    const { clock, s, bs, table } = setup({ timeout: 60_000 });
    for (let k = 0; k < 9; k++) table.pick(ctx(`10.0.0.${k}`), s);
    clock.advance(10_000);
    // New config: bs[0] unchanged (new object, same id), bs[1] removed, bs[2] unchanged.
    const next = makeBackends([1, 1, 1]).filter((_, i) => i !== 1);
    const exported = table.export();
    assert.equal(exported.length, 9);
    assert.ok(exported.every((e) => e.idle === 10_000));
    const fresh = new PersistenceTable({ timeout: 60_000, clock });
    assert.equal(fresh.import(exported, next), 6);
    assert.deepEqual(
      fresh.export().map((e) => [e.client, e.backend, e.idle]),
      exported.filter((e) => e.backend !== bs[1]!.id).map((e) => [e.client, e.backend, e.idle]),
    );
    // or in place:
    assert.equal(table.rebind(next), 6);
    assert.equal(table.lookup('10.0.0.2'), next[1]); // bs[2]'s clients, now the object next[1]
    assert.equal(table.lookup('10.0.0.1'), undefined);
    clock.advance(50_001);
    assert.equal(fresh.lookup('10.0.0.0'), undefined, 'imported entries keep their age');
  });

  it('asks the extra availability callback', () => {
    const { s, bs, clock } = setup();
    const draining = new Set([bs[0]]);
    const table = new PersistenceTable({ timeout: 1000, clock, available: (b) => !draining.has(b) });
    table.remember('10.9.9.9', bs[0]!);
    s.pick(ctx('x')); // rr: the next pick is bs[1]
    assert.equal(table.pick(ctx('10.9.9.9'), s), bs[1]);
    assert.equal(table.lookup('10.9.9.9'), bs[1]);
  });
});
