/** The exec check (keepalived MISC_CHECK) with real scripts, spawned with argument arrays. */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createExecCheck } from './exec.ts';
import { loopback } from './testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'palisade-health-exec-'));
function script(name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}
/** Prints its first argument, the backend port and whether HOME leaked in; exits with its second argument. */
const exitWith = script('exit-with.sh', `printf '%s|%s|%s\\n' "$1" "$PALISADE_BACKEND_PORT" "\${HOME-unset}"\nexit "$2"`);
/** Starts a grandchild, writes its pid to $1, and waits forever. */
const hang = script('hang.sh', 'sleep 30 &\necho $! > "$1"\nwait');

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    // A killed orphan may linger as a zombie until its new parent reaps it.
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

const run = (command: string[], dynamic = false, ms = 5000) => createExecCheck({ command, dynamic }).run(loopback(8080), AbortSignal.timeout(ms));

describe('exec check', () => {
  test.after(() => rmSync(dir, { recursive: true, force: true }));

  test('exit 0 is up, anything else down; arguments reach the program unchanged, no shell', async () => {
    const tricky = 'a b;$(touch /tmp/x)*';
    const up = await run([exitWith, tricky, '0']);
    assert.deepEqual({ ok: up.ok, status: up.status, code: up.code }, { ok: true, status: 'EXEC_OK', code: 0 });
    assert.equal(up.detail, `${tricky}|8080|unset`);
    const down = await run([exitWith, 'x', '3']);
    assert.deepEqual({ ok: down.ok, status: down.status, code: down.code }, { ok: false, status: 'EXEC_EXIT', code: 3 });
  });

  test('dynamic (keepalived misc_dynamic): 0 up at configured weight, 1 down, 2-255 weight = code − 2', async () => {
    const table: Array<[code: number, ok: boolean, weight: unknown]> = [
      [0, true, null],
      [1, false, undefined],
      [2, true, { absolute: 0 }],
      [7, true, { absolute: 5 }],
      [255, true, { absolute: 253 }],
    ];
    for (const [code, ok, weight] of table) {
      const r = await run([exitWith, 'x', String(code)], true);
      assert.deepEqual({ ok: r.ok, code: r.code, weight: r.weight }, { ok, code, weight }, `exit ${code}`);
    }
  });

  test('a timeout kills the whole process group: EXEC_TIMEOUT', async () => {
    const pidFile = join(dir, 'grandchild.pid');
    const started = performance.now();
    const r = await run([hang, pidFile], false, 1000);
    assert.equal(r.status, 'EXEC_TIMEOUT');
    assert.ok(performance.now() - started < 5000);
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(grandchild > 0);
    for (let i = 0; i < 100 && !gone(grandchild); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(gone(grandchild), `grandchild ${grandchild} was killed with its group`);
  });

  test('a program that cannot start: EXEC_ERROR', async () => {
    const r = await run([join(dir, 'does-not-exist')]);
    assert.equal(r.status, 'EXEC_ERROR');
    assert.match(r.detail ?? '', /ENOENT/);
  });
});
