import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CheckResult } from '../core/check-result.ts';
import { HistoryStore } from './history.ts';
import { StoreClient } from './client.ts';

const result = (t: number, load: number): CheckResult => ({ state: 'OK', code: 0, summary: 'OK - load', longOutput: '', perfdata: [{ label: 'load1', value: load, uom: '', warn: '5', crit: '10' }], startedAt: t, durationMs: 3 });

test('the store in its own thread: writes queued without waiting, queries answered as promises, everything committed on close', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-store-client-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'history.sqlite');
  const now = Date.UTC(2026, 10, 22, 12, 0, 0);
  const errors: unknown[] = [];
  const store = new StoreClient({ path, flushInterval: 0, now: () => now, onError: (e) => errors.push(e) });
  t.after(() => store.close());
  for (let i = 0; i < 120; i++) store.record('web1/load', result(now - (120 - i) * 60_000, i % 10));
  store.event({ time: now - 1000, kind: 'STATE', object: 'web1/load', state: 'CRITICAL', detail: undefined });
  store.audit({ time: now, actor: 'admin', action: 'ack', object: 'web1/load', detail: undefined });
  assert.equal(await store.flush(), 122, 'the thread committed every queued write');
  assert.deepEqual(await store.labels('web1/load'), ['load1']);
  const s = await store.view('web1/load', 'load1', '4h');
  assert.ok(s !== undefined && s.points.length > 0, 'a series for the graph');
  assert.deepEqual(s.warn, [5], 'the warning line from the perfdata');
  assert.equal((await store.events(now - 10_000, now + 1)).length, 1);
  store.record('web1/load', result(now, 7));
  await store.close();
  await store.close(); // idempotent
  await assert.rejects(store.labels('web1/load'), /closed/);
  // what was queued before close() is on disk
  const direct = new HistoryStore({ path, flushInterval: 0, now: () => now });
  t.after(() => direct.close());
  assert.equal(Number((direct.db.prepare('SELECT count(*) AS n FROM result').get() as { n: number }).n), 121);
  assert.deepEqual(errors, []);
});
