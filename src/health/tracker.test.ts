import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../core/clock.ts';
import { effectiveState, initialTracker, nextInterval, trackAdmin, trackEjection, trackResult, type TrackerOptions, type TrackerState } from './tracker.ts';
import type { CheckResult } from './types.ts';

const opts: TrackerOptions = { rise: 2, fall: 3, interval: 2000, fast: 500, down: 5000 };
const ok: CheckResult = { ok: true, status: 'L7_OK', code: 200, durationMs: 1 };
const bad: CheckResult = { ok: false, status: 'L7_STATUS', code: 503, durationMs: 1 };

/** Runs a sequence of `+` (success) and `-` (failure); returns the state after each and the flips. */
function run(start: 'up' | 'down', seq: string, o: TrackerOptions = opts) {
  const clock = new ManualClock(0);
  let s = initialTracker(start, clock.now());
  const states: string[] = [];
  const flips: string[] = [];
  const intervals: number[] = [];
  for (const c of seq) {
    clock.advance(1000);
    const step = trackResult(s, c === '+' ? ok : bad, o, clock.now());
    s = step.state;
    states.push(effectiveState(s));
    intervals.push(nextInterval(s, o));
    if (step.flip) flips.push(`${step.flip.from}>${step.flip.to}@${states.length}`);
  }
  return { states: states.join(' '), flips: flips.join(' '), intervals, s };
}

describe('rise/fall tracker', () => {
  const table: Array<{ name: string; start: 'up' | 'down'; seq: string; flips: string }> = [
    { name: 'start up, all good: no flip', start: 'up', seq: '+++++', flips: '' },
    { name: 'start up: the first failure is decisive (HAProxy)', start: 'up', seq: '-', flips: 'up>down@1' },
    { name: 'after one success, fall=3 failures are needed', start: 'up', seq: '+---', flips: 'up>down@4' },
    { name: 'a success in between resets the failure streak', start: 'up', seq: '+--+--+', flips: '' },
    { name: 'start down: rise=2 successes bring it up', start: 'down', seq: '++', flips: 'down>up@2' },
    { name: 'start down: an alternating backend never comes up', start: 'down', seq: '+-+-+-', flips: '' },
    { name: 'down, up, down again', start: 'down', seq: '++-+---++', flips: 'down>up@2 up>down@7 down>up@9' },
    { name: 'failures while down change nothing', start: 'down', seq: '-----', flips: '' },
  ];
  for (const row of table) {
    test(row.name, () => assert.equal(run(row.start, row.seq).flips, row.flips));
  }

  test('rise=1 fall=1 flips on every change', () => {
    assert.equal(run('down', '+-+-', { ...opts, rise: 1, fall: 1 }).flips, 'down>up@1 up>down@2 down>up@3 up>down@4');
  });

  test('next interval: normal when stable, fast while changing, down while down', () => {
    // + : up stable; - : changing; - : changing; - : down; + : changing; + : up
    assert.deepEqual(run('up', '+---++').intervals, [2000, 500, 500, 5000, 500, 2000]);
  });

  test('the flip names what failed and how often', () => {
    const clock = new ManualClock();
    let s = initialTracker('up', 0);
    s = trackResult(s, ok, opts, clock.now()).state;
    s = trackResult(s, bad, opts, clock.now()).state;
    s = trackResult(s, bad, opts, clock.now()).state;
    const step = trackResult(s, { ...bad, detail: 'Service Unavailable' }, opts, clock.now());
    assert.deepEqual(step.flip, { from: 'up', to: 'down', source: 'check', reason: 'L7_STATUS 503: Service Unavailable (3 consecutive failures)' });
  });
});

function after(s: TrackerState, n: number, r: CheckResult): TrackerState {
  for (let i = 0; i < n; i++) s = trackResult(s, r, opts, 0).state;
  return s;
}

describe('operator states override checks', () => {

  test('drain is a flip; failures underneath do not flip; clearing shows the current health', () => {
    let s = after(initialTracker('up', 0), 1, ok);
    const drain = trackAdmin(s, 'drain', 10);
    assert.deepEqual(drain.flip, { from: 'up', to: 'drain', source: 'operator', reason: 'operator drain' });
    s = drain.state;
    const downs = [1, 2, 3].map(() => {
      const step = trackResult(s, bad, opts, 20);
      s = step.state;
      return step.flip;
    });
    assert.deepEqual(downs, [undefined, undefined, undefined]);
    assert.equal(s.health, 'down');
    assert.equal(effectiveState(s), 'drain');
    const clear = trackAdmin(s, 'up', 30);
    assert.deepEqual(clear.flip, { from: 'drain', to: 'down', source: 'operator', reason: 'operator cleared drain' });
  });

  test('maint beats drain; setting the same state twice is not a flip', () => {
    const s = trackAdmin(initialTracker('up', 0), 'drain', 0).state;
    const m = trackAdmin(s, 'maint', 1);
    assert.equal(m.flip?.to, 'maint');
    assert.equal(trackAdmin(m.state, 'maint', 2).flip, undefined);
  });

  test('clearing when nothing was set is not a flip', () => {
    assert.equal(trackAdmin(initialTracker('up', 0), 'up', 0).flip, undefined);
  });
});

describe('agent and passive inputs', () => {
  const agentDrain: CheckResult = { ok: true, status: 'AGENT_DRAIN', durationMs: 1, agentAdmin: 'drain' };
  const agentUp: CheckResult = { ok: true, status: 'AGENT_OK', durationMs: 1 };
  const agentReady: CheckResult = { ok: true, status: 'AGENT_OK', durationMs: 1, agentAdmin: 'ready' };

  test('agent drain flips at once; `up` keeps it; `ready` clears it (HAProxy)', () => {
    const s0 = initialTracker('up', 0);
    const d = trackResult(s0, agentDrain, opts, 1);
    assert.deepEqual(d.flip, { from: 'up', to: 'drain', source: 'agent', reason: 'agent says drain' });
    const u = trackResult(d.state, agentUp, opts, 2);
    assert.equal(u.flip, undefined);
    assert.equal(effectiveState(u.state), 'drain');
    const r = trackResult(u.state, agentReady, opts, 3);
    assert.equal(r.flip?.to, 'up');
  });

  test('a failed health beats an agent drain', () => {
    const s = trackResult(initialTracker('up', 0), { ...agentDrain, ok: false, status: 'AGENT_DOWN' }, opts, 1).state;
    assert.equal(effectiveState(s), 'down');
  });

  test('weights reported by the backend are kept until reset', () => {
    let step = trackResult(initialTracker('up', 0), { ...agentUp, weight: { percent: 50 } }, opts, 1);
    assert.equal(step.weightChanged, true);
    assert.deepEqual(step.state.dynamic, { percent: 50 });
    step = trackResult(step.state, agentUp, opts, 2);
    assert.equal(step.weightChanged, false);
    assert.deepEqual(step.state.dynamic, { percent: 50 });
    step = trackResult(step.state, { ...agentUp, weight: null }, opts, 3);
    assert.equal(step.weightChanged, true);
    assert.equal(step.state.dynamic, undefined);
  });

  test('ejection takes an up backend down; its end brings it back and starts slow start', () => {
    const s = trackResult(initialTracker('up', 0), ok, opts, 1).state;
    const e = trackEjection(s, '5 consecutive 5xx', 10);
    assert.deepEqual(e.flip, { from: 'up', to: 'down', source: 'passive', reason: '5 consecutive 5xx' });
    const back = trackEjection(e.state, undefined, 40);
    assert.equal(back.flip?.to, 'up');
    assert.equal(back.state.upSince, 40);
  });

  test('an ejection of a backend already down by checks is not a flip, nor is its end', () => {
    const down = trackResult(initialTracker('up', 0), bad, opts, 1).state;
    const e = trackEjection(down, 'x', 2);
    assert.equal(e.flip, undefined);
    assert.equal(trackEjection(e.state, undefined, 3).flip, undefined);
  });

  test('up since creation has no upSince (no slow start at boot); a flip to up sets it', () => {
    assert.equal(initialTracker('up', 5).upSince, undefined);
    const { s } = run('down', '++');
    assert.equal(s.upSince, 2000);
  });
});
