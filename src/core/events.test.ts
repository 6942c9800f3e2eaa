import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventBus, type PalisadeEvent } from './events.ts';

const ev = (state: string, time = 1) => ({ kind: 'vrrp_transition' as const, subject: 'vrrp/VI_1', state, severity: 'info' as const, message: `to ${state}`, fields: {}, time });

test('events: listeners get each event stamped with the node; recent() keeps the last N, oldest first', () => {
  const bus = new EventBus('d1', { keep: 3 });
  const seen: PalisadeEvent[] = [];
  const off = bus.on((e) => seen.push(e));
  for (const s of ['BACKUP', 'MASTER', 'FAULT', 'BACKUP']) bus.emit(ev(s));
  assert.deepEqual(seen.map((e) => [e.state, e.node]), [['BACKUP', 'd1'], ['MASTER', 'd1'], ['FAULT', 'd1'], ['BACKUP', 'd1']]);
  assert.deepEqual(bus.recent().map((e) => e.state), ['MASTER', 'FAULT', 'BACKUP']);
  assert.deepEqual(bus.recent(2).map((e) => e.state), ['FAULT', 'BACKUP']);
  assert.equal(bus.total, 4);
  off();
  bus.emit(ev('MASTER'));
  assert.equal(seen.length, 4, 'unsubscribed');
  assert.deepEqual(new EventBus('x').recent(), []);
});

test('events: a listener that throws does not stop the others or the emitter', () => {
  const errors: unknown[] = [];
  const bus = new EventBus('d1', { onListenerError: (err) => errors.push(err) });
  let got = 0;
  bus.on(() => {
    throw new Error('bad listener');
  });
  bus.on(() => got++);
  bus.emit(ev('MASTER'));
  assert.equal(got, 1);
  assert.equal(errors.length, 1);
  assert.throws(() => new EventBus('d1', { keep: 0 }), RangeError);
});

test('events: time defaults to now', () => {
  const bus = new EventBus('d1');
  const before = Date.now();
  bus.emit({ kind: 'quorum', subject: 'service/www', state: 'QUORUM_LOST', severity: 'critical', message: 'lost', fields: {} });
  assert.ok(bus.recent()[0]!.time >= before);
});

test('events: since(after) gives numbered events after a sequence number, says how many rotated out, and names its run', () => {
  const bus = new EventBus('d1', { keep: 3 });
  assert.deepEqual(bus.since(0), { boot: bus.boot, last: 0, missed: 0, events: [] });
  for (const s of ['INIT', 'BACKUP', 'MASTER', 'FAULT', 'BACKUP']) bus.emit(ev(s));
  const cases: Array<[after: number, max: number | undefined, seqs: number[], states: string[], missed: number]> = [
    [0, undefined, [3, 4, 5], ['MASTER', 'FAULT', 'BACKUP'], 2],
    [1, undefined, [3, 4, 5], ['MASTER', 'FAULT', 'BACKUP'], 1],
    [2, undefined, [3, 4, 5], ['MASTER', 'FAULT', 'BACKUP'], 0],
    [3, undefined, [4, 5], ['FAULT', 'BACKUP'], 0],
    [5, undefined, [], [], 0],
    [9, undefined, [], [], 0], // a reader of an earlier run: nothing, and boot tells it why
    [2, 2, [3, 4], ['MASTER', 'FAULT'], 0],
  ];
  for (const [after, max, seqs, states, missed] of cases) {
    const r = bus.since(after, max);
    assert.equal(r.last, 5);
    assert.deepEqual(r.events.map((x) => x.seq), seqs, `after ${after}`);
    assert.deepEqual(r.events.map((x) => x.event.state), states, `after ${after}`);
    assert.equal(r.missed, missed, `missed after ${after}`);
  }
  assert.notEqual(new EventBus('d1').boot, bus.boot, 'each run has its own boot id');
});
