import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CheckView, ClusterSnapshot } from './facade.ts';
import { LiveState } from './live.ts';
import { applyPatch, compareChecks, diff, type PatchOp } from './patch.ts';

const row = (object: string, state: string, lastStateChange: number) => ({ object, state, lastStateChange });
const snap = (time: number, status = 'up'): ClusterSnapshot => ({
  cluster: 'c',
  node: 'n',
  time,
  nodes: [{ name: 'n', address: '127.0.0.1', roles: [], self: true, reachable: true }],
  vrrp: [],
  checkTotals: { OK: status === 'up' ? 1 : 0 },
});
const check = (object: string, state: string): CheckView => ({ object, host: object, kind: 'tcp', state, stateType: 'HARD', attempt: 1, maxAttempts: 3, output: state, lastCheck: 1, lastStateChange: 1, flapping: false, inDowntime: false, downtimes: [] });

describe('diff and applyPatch', () => {
  const cases: { name: string; a: unknown; b: unknown; ops: PatchOp[] }[] = [
    { name: 'equal', a: { x: 1, y: [1, 2] }, b: { x: 1, y: [1, 2] }, ops: [] },
    { name: 'a leaf changes', a: { x: 1, y: { z: 'a' } }, b: { x: 1, y: { z: 'b' } }, ops: [[['y', 'z'], 'b']] },
    { name: 'a key appears', a: { x: 1 }, b: { x: 1, y: null }, ops: [[['y'], null]] },
    { name: 'a key goes', a: { x: 1, y: 2 }, b: { x: 1 }, ops: [[['y']]] },
    { name: 'undefined counts as absent', a: { x: 1, y: undefined }, b: { x: 1 }, ops: [] },
    { name: 'an array element changes', a: { l: [{ s: 'up' }, { s: 'up' }] }, b: { l: [{ s: 'up' }, { s: 'down' }] }, ops: [[['l', 1, 's'], 'down']] },
    { name: 'an array grows: replaced whole', a: { l: [1] }, b: { l: [1, 2] }, ops: [[['l'], [1, 2]]] },
    { name: 'object becomes array', a: { l: {} }, b: { l: [] }, ops: [[['l'], []]] },
    { name: 'the root changes kind', a: 1, b: { x: 1 }, ops: [[[], { x: 1 }]] },
    { name: 'several keys of one object: one merge op', a: { b: [{ id: 'x', active: 1, requests: 10, up: true }] }, b: { b: [{ id: 'x', active: 2, requests: 12, up: true }] }, ops: [[['b', 0], { active: 2, requests: 12 }, 1]] },
    { name: 'a key set beside a deeper change: no merge', a: { t: 1, n: { x: 1 } }, b: { t: 2, n: { x: 2 } }, ops: [[['t'], 2], [['n', 'x'], 2]] },
    { name: 'keys of the root merged', a: { t: 1, u: 1 }, b: { t: 2, u: 2, v: 'new' }, ops: [[[], { t: 2, u: 2, v: 'new' }, 1]] },
    { name: 'a merge beside a delete', a: { t: 1, u: 1, w: 0 }, b: { t: 2, u: 2 }, ops: [[[], { t: 2, u: 2 }, 1], [['w']]] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const ops = diff(c.a, c.b);
      assert.deepEqual(ops, c.ops);
      assert.deepEqual(JSON.parse(JSON.stringify(applyPatch(c.a, ops)) ?? 'null'), JSON.parse(JSON.stringify(c.b)));
    });
  }

  test('a patch copies only the objects on its paths, and leaves the original alone', () => {
    const a = { time: 1, services: [{ name: 's0', backends: [{ id: 'b0', up: true }] }, { name: 's1', backends: [{ id: 'b1', up: true }] }] };
    const b = structuredClone(a);
    b.time = 2;
    b.services[1]!.backends[0]!.up = false;
    const next = applyPatch(a, diff(a, b));
    assert.deepEqual(next, b);
    assert.equal(a.time, 1, 'the original is unchanged');
    assert.equal(a.services[1]!.backends[0]!.up, true);
    assert.equal(next.services[0], a.services[0], 'an unchanged service keeps its object');
    assert.notEqual(next.services[1], a.services[1]);
  });

  test('a patch through a path that does not exist is refused', () => {
    assert.throws(() => applyPatch({ a: 1 }, [[['b', 'c'], 1]]), /does not exist/);
    assert.throws(() => applyPatch({ a: 1 }, [[['b'], { c: 1 }, 1]]), /does not exist/);
  });

  test('a merge copies the merged object, not its siblings', () => {
    const a = { s: [{ n: 1, m: 1 }, { n: 1, m: 1 }] };
    const next = applyPatch(a, [[['s', 1], { n: 2, m: 3 }, 1]]);
    assert.deepEqual(next, { s: [{ n: 1, m: 1 }, { n: 2, m: 3 }] });
    assert.deepEqual(a.s[1], { n: 1, m: 1 });
    assert.equal(next.s[0], a.s[0]);
  });

  test('checks sort problems first, then the oldest change, then the name', () => {
    const sorted = [row('a', 'OK', 1), row('b', 'WARNING', 5), row('c', 'CRITICAL', 9), row('d', 'UNKNOWN', 1), row('e', 'CRITICAL', 3), row('f', 'DOWN', 3)].toSorted(compareChecks);
    assert.deepEqual(
      sorted.map((x) => x.object),
      ['e', 'f', 'c', 'b', 'd', 'a'],
    );
  });
});

describe('LiveState: what the live stream sends', () => {
  const decoder = new TextDecoder();
  const events = (frames: Uint8Array[]) =>
    frames.map((f) => {
      const m = /^event: (\w+)\ndata: (.*)\n\n$/s.exec(decoder.decode(f));
      assert.ok(m !== null, 'one event with one data line');
      return { event: m[1]!, data: JSON.parse(m[2]!) as unknown };
    });

  test('the first update sends nothing; a page that connects gets the whole snapshot and every check', () => {
    const live = new LiveState();
    assert.equal(live.ready, false);
    assert.deepEqual(live.update(snap(1), [check('a', 'OK'), check('b', 'OK')], 1), []);
    const base = events(live.baseline());
    assert.deepEqual(
      base.map((e) => e.event),
      ['snapshot', 'checks'],
    );
    assert.deepEqual(base[0]!.data, snap(1));
    assert.deepEqual(base[1]!.data, [check('a', 'OK'), check('b', 'OK')]);
  });

  test('then only what changed: a patch of the snapshot, the changed and removed checks; nothing when nothing changed', () => {
    const live = new LiveState();
    live.update(snap(1), [check('a', 'OK'), check('b', 'OK')], 1);
    assert.deepEqual(live.update(snap(1), [check('a', 'OK'), check('b', 'OK')], 2), []);
    const ev = events(live.update(snap(2, 'down'), [check('a', 'CRITICAL'), check('c', 'OK')], 3));
    assert.deepEqual(ev, [
      {
        event: 'snapshotPatch',
        data: [
          [['time'], 2],
          [['checkTotals', 'OK'], 0],
        ],
      },
      { event: 'checksPatch', data: { set: [check('a', 'CRITICAL'), check('c', 'OK')], del: ['b'] } },
    ]);
    // A page connecting now starts from the new state.
    const base = events(live.baseline());
    assert.equal((base[0]!.data as ClusterSnapshot).time, 2);
    assert.deepEqual(
      (base[1]!.data as CheckView[]).map((c) => c.object),
      ['a', 'c'],
    );
  });

  test('the patch applied to the page\'s copy gives the server\'s snapshot', () => {
    const live = new LiveState();
    const a = snap(1);
    live.update(a, [], 1);
    const b = { ...snap(2, 'down'), vrrp: [{ instance: 'VI_1', vrid: 1, holders: ['n'], splitBrain: false, members: [] }] };
    const [f] = events(live.update(b, [], 2));
    assert.equal(f!.event, 'snapshotPatch');
    assert.deepEqual(applyPatch(a, f!.data as PatchOp[]), b);
  });
});
