import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { monitorSchema } from '../config/monitor-schema.ts';
import type { Logger } from '../core/logger.ts';
import { RETENTION_VERSION, type RetentionSnapshot } from '../monitor/state/retention.ts';
import { readRetention, retentionPath, RetentionWriter, writeFileAtomic } from './monitor-retention.ts';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-retention-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function memoryLog(): { log: Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) });
  return { log, lines };
}

function snap(saved: number): RetentionSnapshot {
  return { version: RETENTION_VERSION, saved, nextDowntimeId: 1, checks: {}, downtimes: [] };
}

test('the file sits beside the store, named after it', () => {
  const table: Array<[string, string]> = [
    ['monitor.db', '/run/palisade/monitor-retention.json'],
    ['history/mon.sqlite', '/run/palisade/history/mon-retention.json'],
    ['/var/lib/palisade/monitor.db', '/var/lib/palisade/monitor-retention.json'],
  ];
  for (const [path, want] of table) assert.equal(retentionPath('/run/palisade', monitorSchema.parse({ store: { path } })), want, path);
});

test('an atomic write replaces the file whole, leaves no temporary file, and is readable by the owner only', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'state.json');
  await writeFileAtomic(file, 'one\n');
  await writeFileAtomic(file, 'two\n');
  assert.equal(await readFile(file, 'utf8'), 'two\n');
  assert.deepEqual(await readdir(dir), ['state.json']);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
});

test('reading: no file, a good one, and files refused with the reason', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'r.json');
  assert.deepEqual(await readRetention(file), { kind: 'none' });
  await writeFile(file, JSON.stringify(snap(5)));
  assert.deepEqual(await readRetention(file), { kind: 'ok', snapshot: snap(5) });
  await writeFile(file, '{"version": 1, "saved": 5, "che');
  const cut = await readRetention(file);
  assert.ok(cut.kind === 'refused' && !cut.unreadable && cut.reason.startsWith('not JSON ('), JSON.stringify(cut));
  await writeFile(file, JSON.stringify({ ...snap(5), version: 9 }));
  const newer = await readRetention(file);
  assert.ok(newer.kind === 'refused' && /format version 9 is newer/.test(newer.reason), JSON.stringify(newer));
  const asDir = await readRetention(dir);
  assert.ok(asDir.kind === 'refused' && asDir.unreadable && /cannot be read \(.*EISDIR/.test(asDir.reason), JSON.stringify(asDir));
});

test('the writer: saves asked for during a write make one more write of the newest state; a failure is logged once', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'made', 'w.json');
  let saved = 0;
  const { log, lines } = memoryLog();
  const w = new RetentionWriter({ file, snapshot: () => snap(++saved), log, intervalMs: 0 });
  const all = [w.save(), w.save(), w.save(), w.save()];
  await Promise.all(all);
  assert.equal(w.writes, 2, 'the first write, then one for the three asked for meanwhile');
  assert.equal((JSON.parse(await readFile(file, 'utf8')) as RetentionSnapshot).saved, 2);
  // Its directory is made by the first write only: removed later, it is not made again.
  await rm(join(dir, 'made'), { recursive: true });
  await w.save();
  assert.equal(w.writes, 2);
  await assert.rejects(readdir(join(dir, 'made')), /ENOENT/);
  lines.length = 0;


  // A directory that cannot be made (a file is in the way; chmod would not stop root): logged once, not at
  // every write; logged again when it works.
  const blocked = join(dir, 'blocked');
  await writeFile(blocked, '');
  const b = new RetentionWriter({ file: join(blocked, 'w.json'), snapshot: () => snap(++saved), log, intervalMs: 0 });
  await b.save();
  await b.save();
  const errors = lines.filter((l) => l.level === 50);
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.msg, /retained state could not be written to .*blocked\/w\.json: a restart now would forget acknowledgements and downtime/);
  await rm(blocked);
  await b.close();
  assert.equal(b.writes, 1);
  assert.ok(lines.some((l) => l.level === 30 && /written to .* again/.test(l.msg)));
});

test('the writer writes every interval once started, and once more when closed', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'p.json');
  let n = 0;
  const w = new RetentionWriter({ file, snapshot: () => snap(++n), log: memoryLog().log, intervalMs: 1_000 });
  w.start();
  const deadline = Date.now() + 5_000;
  while (w.writes < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(w.writes >= 2, `periodic writes: ${w.writes}`);
  const before = w.writes;
  await w.close();
  assert.equal(w.writes, before + 1);
  await new Promise((r) => setTimeout(r, 1_200));
  assert.equal(w.writes, before + 1, 'no more periodic writes after close');
});
