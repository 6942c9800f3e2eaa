import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VrrpTrackConfig } from '../../config/ha-schema.ts';
import { contribution, fileValue, linkUp, runScript, TrackerRunner, TrackerSet } from './track.ts';

const script = (weight: number): VrrpTrackConfig => ({ type: 'script', command: ['/bin/true'], interval: 1000, weight, rise: 1, fall: 1 }) as VrrpTrackConfig;
const file = (weight: number): VrrpTrackConfig => ({ type: 'file', path: '/x', weight }) as VrrpTrackConfig;

test("keepalived's weight rules", () => {
  const table: [VrrpTrackConfig, { ok: boolean; value?: number }, { fault?: string; delta: number }][] = [
    [script(0), { ok: true }, { delta: 0 }],
    [script(0), { ok: false }, { fault: 'script /bin/true', delta: 0 }],
    [script(-20), { ok: true }, { delta: 0 }],
    [script(-20), { ok: false }, { delta: -20 }],
    [script(10), { ok: true }, { delta: 10 }],
    [script(10), { ok: false }, { delta: 0 }],
    [file(5), { ok: true, value: 3 }, { delta: 15 }],
    [file(-2), { ok: true, value: 4 }, { delta: -8 }],
    [file(0), { ok: true, value: 0 }, { delta: 0 }],
    [file(0), { ok: true, value: 1 }, { fault: 'file /x', delta: 0 }],
  ];
  for (const [t, s, want] of table) assert.deepEqual(contribution(t, s), want, JSON.stringify([t.weight, s]));
});

test('a tracker set adds up deltas and lists faults', () => {
  const set = new TrackerSet([script(-20), script(-30), script(0)]);
  assert.deepEqual(set.evaluate(), { delta: 0, faults: [] }, 'optimistic start');
  set.statuses[0]!.ok = false;
  set.statuses[1]!.ok = false;
  assert.deepEqual(set.evaluate(), { delta: -50, faults: [] });
  set.statuses[2]!.ok = false;
  assert.deepEqual(set.evaluate().faults, ['script /bin/true']);
});

test('probes: scripts (exit code, timeout kills), files, links', async (t) => {
  assert.equal(await runScript(['/bin/true'], 1000), true);
  assert.equal(await runScript(['/bin/false'], 1000), false);
  assert.equal(await runScript(['/nonexistent/program'], 1000), false);
  const started = Date.now();
  assert.equal(await runScript(['/bin/sleep', '5'], 100), false);
  assert.ok(Date.now() - started < 2000, 'killed at the timeout');
  const dir = await mkdtemp(join(tmpdir(), 'palisade-track-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'v'), ' 42\n');
  assert.equal(await fileValue(join(dir, 'v')), 42);
  assert.equal(await fileValue(join(dir, 'missing')), 0);
  assert.equal(await linkUp('lo'), true);
  assert.equal(await linkUp('no-such-if0'), false);
});

test('a runner reports a failing script after `fall` runs and recovery after `rise`', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-track-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const flag = join(dir, 'ok');
  await writeFile(flag, '');
  const changes: [number, string[]][] = [];
  const r = new TrackerRunner([{ type: 'script', command: ['/usr/bin/test', '-e', flag], interval: 30, weight: -40, rise: 2, fall: 2 } as VrrpTrackConfig], (d, f) => changes.push([d, f]));
  r.start();
  t.after(() => r.stop());
  await new Promise((res) => setTimeout(res, 150));
  assert.deepEqual(changes, [[0, []]]);
  await rm(flag);
  const end = Date.now() + 3000;
  while (changes.length < 2 && Date.now() < end) await new Promise((res) => setTimeout(res, 20));
  assert.deepEqual(changes[1], [-40, []]);
  await writeFile(flag, '');
  while (changes.length < 3 && Date.now() < end + 3000) await new Promise((res) => setTimeout(res, 20));
  assert.deepEqual(changes[2], [0, []]);
});
