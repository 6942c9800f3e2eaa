import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../core/clock.ts';
import { makeBackends } from './conformance.ts';
import { WaitQueue, type QueueTimers, type Waiter } from './queue.ts';
import type { Backend } from './types.ts';

/** Timers that fire only when the test says so, against a manual clock. */
function fakeTimers(clock: ManualClock) {
  const pending = new Map<number, { at: number; fn: () => void }>();
  let id = 0;
  const timers: QueueTimers = {
    setTimeout(fn, ms) {
      pending.set(++id, { at: clock.now() + ms, fn });
      return id;
    },
    clearTimeout(h) {
      pending.delete(h as number);
    },
  };
  return {
    timers,
    pending,
    advance(ms: number) {
      clock.advance(ms);
      for (const [k, t] of pending) {
        if (t.at <= clock.now()) {
          pending.delete(k);
          t.fn();
        }
      }
    },
  };
}

function waiter(log: string[], name: string, accept?: (b: Backend) => boolean): Waiter {
  return {
    ...(accept ? { accept } : {}),
    grant: (b) => log.push(`${name}→${b.id}`),
    expire: (r) => log.push(`${name}:${r}`),
  };
}

describe('WaitQueue (HAProxy maxconn queue)', () => {
  it('hands a freed slot to the oldest waiter that accepts the backend', () => {
    const clock = new ManualClock(0);
    const t = fakeTimers(clock);
    const q = new WaitQueue({ maxLength: 10, timeout: 5000, clock, timers: t.timers });
    const [a, b] = makeBackends([1, 1]);
    const log: string[] = [];
    q.enqueue(waiter(log, 'w1', (x) => x === b));
    q.enqueue(waiter(log, 'w2'));
    q.enqueue(waiter(log, 'w3'));
    assert.equal(q.length, 3);
    assert.equal(q.release(a!), true);
    assert.equal(q.release(a!), true);
    assert.equal(q.release(b!), true);
    assert.equal(q.release(b!), false);
    assert.deepEqual(log, ['w2→10.0.0.1:80', 'w3→10.0.0.1:80', 'w1→10.0.0.2:80']);
    assert.equal(q.length, 0);
    assert.equal(t.pending.size, 0, 'no timer left behind');
  });

  it('refuses beyond maxLength', () => {
    const q = new WaitQueue({ maxLength: 2, timeout: 0 });
    const log: string[] = [];
    assert.ok(q.enqueue(waiter(log, 'a')));
    assert.ok(q.enqueue(waiter(log, 'b')));
    assert.equal(q.enqueue(waiter(log, 'c')), undefined);
    q.close();
    assert.deepEqual(log, ['a:closed', 'b:closed']);
  });

  it('expires waiters after the timeout, in order, with one timer', () => {
    const clock = new ManualClock(0);
    const t = fakeTimers(clock);
    const q = new WaitQueue({ maxLength: 10, timeout: 1000, clock, timers: t.timers });
    const log: string[] = [];
    q.enqueue(waiter(log, 'w1'));
    t.advance(400);
    q.enqueue(waiter(log, 'w2'));
    assert.equal(t.pending.size, 1);
    t.advance(600);
    assert.deepEqual(log, ['w1:timeout']);
    t.advance(399);
    assert.deepEqual(log, ['w1:timeout']);
    t.advance(1);
    assert.deepEqual(log, ['w1:timeout', 'w2:timeout']);
    assert.equal(q.length, 0);
  });

  it('cancel leaves the queue without a callback', () => {
    const q = new WaitQueue({ maxLength: 10, timeout: 0 });
    const log: string[] = [];
    const t1 = q.enqueue(waiter(log, 'w1'))!;
    q.enqueue(waiter(log, 'w2'));
    assert.equal(t1.cancel(), true);
    assert.equal(t1.cancel(), false);
    q.release(makeBackends([1])[0]!);
    assert.deepEqual(log, ['w2→10.0.0.1:80']);
  });

  it('wait(): resolves with the backend, the timeout, full, or aborted', async () => {
    const clock = new ManualClock(0);
    const t = fakeTimers(clock);
    const q = new WaitQueue({ maxLength: 2, timeout: 1000, clock, timers: t.timers });
    const [a] = makeBackends([1]);
    const ac = new AbortController();
    const p1 = q.wait();
    const p2 = q.wait({ signal: ac.signal });
    assert.deepEqual(await q.wait(), { ok: false, reason: 'full' });
    ac.abort();
    assert.deepEqual(await p2, { ok: false, reason: 'aborted' });
    q.release(a!);
    assert.deepEqual(await p1, { ok: true, backend: a });
    const p3 = q.wait();
    t.advance(1000);
    assert.deepEqual(await p3, { ok: false, reason: 'timeout' });
    q.close();
    assert.deepEqual(await q.wait(), { ok: false, reason: 'closed' });
  });

  it('default timers do not keep the process alive', async () => {
    const q = new WaitQueue({ maxLength: 1, timeout: 60_000 });
    void q.wait();
    // If the timer were ref'ed, node:test would wait a minute here; close for tidiness.
    q.close();
  });
});
