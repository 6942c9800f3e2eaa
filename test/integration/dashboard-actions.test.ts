/**
 * The operator actions of the dashboard API over HTTP, with real sessions and CSRF
 * tokens, against a running daemon whose monitor checks a dead port (CRITICAL) and a
 * live one (OK): remove an acknowledgement, flexible downtime (pending on an OK
 * check, started at once on a failing one), list and cancel downtime; each refused
 * without the CSRF token and for a read-only user, each audited in the timeline.
 * Then the same actions from the `palisade` command, and `status --json` with the
 * check summary.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Daemon } from '../../src/app/daemon.ts';
import { createLogger } from '../../src/core/logger.ts';
import { hashPassword } from '../../src/web/auth.ts';
import type { CheckView, DowntimeView, TimelineEntry } from '../../src/web/facade.ts';
import { freePort, startBackend, waitFor } from '../helpers/http.ts';

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

function palisade(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, USER: 'tester' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

interface Session {
  cookie: string;
  csrf: string;
}

test('remove ack, flexible downtime, cancel downtime: API with session and CSRF, read-only refused, audited; the same from the CLI', { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-actions-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const up = await startBackend(t, 'up');
  const [dead, webPort] = await Promise.all([freePort(), freePort()]);
  const [adminHash, viewerHash] = await Promise.all([hashPassword('admin-password'), hashPassword('viewer-password')]);
  const file = join(dir, 'cluster.yaml');
  await writeFile(
    file,
    `cluster: { name: actions }
runtime_dir: ${dir}
services:
  www:
    listen: 127.0.0.1:0
    backends: [${up.address}]
web:
  listen: 127.0.0.1:${webPort}
  users:
    admin: { role: admin, password_hash: "${adminHash}" }
    viewer: { role: readonly, password_hash: "${viewerHash}" }
monitor:
  hosts:
    local:
      address: 127.0.0.1
      services:
        dead: { check: { builtin: tcp, port: ${dead}, timeout: 1s }, max_check_attempts: 1, check_interval: 1s }
        alive: { check: { builtin: tcp, port: ${up.address.split(':')[1]}, timeout: 1s }, max_check_attempts: 1, check_interval: 1s }
`,
  );
  const daemon = await Daemon.start({ file, log: createLogger({ level: 'silent', format: 'json' }) });
  t.after(() => daemon.stop(1_000));
  const base = `http://127.0.0.1:${webPort}`;

  const login = async (user: string, password: string): Promise<Session> => {
    const r = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, password }) });
    assert.equal(r.status, 200);
    const cookie = (r.headers.get('set-cookie') ?? '').split(';')[0]!;
    assert.match(cookie, /^palisade_session=/);
    return { cookie, csrf: ((await r.json()) as { csrf: string }).csrf };
  };
  const get = async <T>(s: Session, path: string): Promise<T> => {
    const r = await fetch(`${base}${path}`, { headers: { cookie: s.cookie } });
    assert.equal(r.status, 200, path);
    return (await r.json()) as T;
  };
  const post = async (s: Session, path: string, body?: unknown, csrf: string | null = s.csrf) => {
    const headers: Record<string, string> = { cookie: s.cookie, 'content-type': 'application/json' };
    if (csrf !== null) headers['x-csrf-token'] = csrf;
    const r = await fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body ?? {}) });
    return { status: r.status, body: (await r.json()) as { ok?: boolean; message?: string; error?: string } };
  };
  const check = async (s: Session, object: string) => (await get<CheckView[]>(s, '/api/checks')).find((c) => c.object === object)!;
  const audited = async (s: Session, action: string, object: string) => (await get<TimelineEntry[]>(s, '/api/timeline?limit=1000')).some((e) => e.kind === 'audit' && e.actor === 'admin' && e.state === action && e.subject === object);

  const admin = await login('admin', 'admin-password');
  const viewer = await login('viewer', 'viewer-password');
  await waitFor(async () => (await check(admin, 'local/dead'))?.state === 'CRITICAL', 20_000, 'local/dead CRITICAL');
  await waitFor(async () => (await check(admin, 'local/alive'))?.state === 'OK', 20_000, 'local/alive OK');

  // Remove an acknowledgement.
  const acked = await post(admin, '/api/checks/ack', { object: 'local/dead', comment: 'known' });
  assert.equal(acked.status, 200, acked.body.error);
  assert.equal((await check(admin, 'local/dead')).ack?.author, 'admin');
  const noCsrf = await post(admin, '/api/checks/unack', { object: 'local/dead' }, null);
  assert.equal(noCsrf.status, 403);
  assert.match(noCsrf.body.error ?? '', /CSRF/);
  assert.equal((await post(admin, '/api/checks/unack', { object: 'local/dead' }, 'wrong-token')).status, 403);
  assert.equal((await post(viewer, '/api/checks/unack', { object: 'local/dead' })).status, 403);
  assert.equal((await check(admin, 'local/dead')).ack?.author, 'admin', 'refused requests changed nothing');
  const unack = await post(admin, '/api/checks/unack', { object: 'local/dead' });
  assert.equal(unack.status, 200, unack.body.error);
  assert.equal((await check(admin, 'local/dead')).ack, undefined);
  assert.ok(await audited(admin, 'remove acknowledgement', 'local/dead'));
  assert.ok((await get<TimelineEntry[]>(admin, '/api/timeline?limit=1000')).some((e) => e.kind === 'ack' && e.message === 'acknowledgement of local/dead removed'));
  const again = await post(admin, '/api/checks/unack', { object: 'local/dead' });
  assert.equal(again.status, 409);
  assert.match(again.body.error ?? '', /not acknowledged/);
  assert.equal((await post(admin, '/api/checks/unack', { object: 'local/nothing' })).status, 404);

  // Flexible downtime: pending while the check is OK, started at once on a failing check.
  assert.equal((await post(admin, '/api/checks/downtime', { object: 'local/alive', minutes: 30, flexible: true })).status, 400, 'flexible needs within_minutes');
  assert.equal((await post(viewer, '/api/checks/downtime', { object: 'local/alive', minutes: 30, flexible: true, within_minutes: 60 })).status, 403);
  const pending = await post(admin, '/api/checks/downtime', { object: 'local/alive', minutes: 30, flexible: true, within_minutes: 60, comment: 'window' });
  assert.equal(pending.status, 200, pending.body.error);
  assert.match(pending.body.message ?? '', /flexible downtime #\d+ for local\/alive: 30 min from its first problem within 60 min$/);
  const running = await post(admin, '/api/checks/downtime', { object: 'local/dead', minutes: 30, flexible: true, within_minutes: 60 });
  assert.equal(running.status, 200, running.body.error);
  assert.match(running.body.message ?? '', /\(a problem now: started\)/);
  const list = await get<DowntimeView[]>(viewer, '/api/downtimes');
  const p = list.find((d) => d.object === 'local/alive')!;
  const r = list.find((d) => d.object === 'local/dead')!;
  assert.equal(p.fixed, false);
  assert.equal(p.duration, 30 * 60_000);
  assert.equal(p.end - p.start, 60 * 60_000);
  assert.equal(p.startedAt, undefined, 'pending while OK');
  assert.equal(p.author, 'admin');
  assert.ok(r.startedAt !== undefined, 'running: the check is CRITICAL');
  assert.equal((await check(admin, 'local/dead')).inDowntime, true);
  assert.equal((await check(admin, 'local/alive')).inDowntime, false);
  assert.deepEqual(
    (await check(admin, 'local/alive')).downtimes.map((d) => d.id),
    [p.id],
  );
  assert.ok(await audited(admin, 'flexible downtime', 'local/alive'));

  // Cancel downtime.
  assert.equal((await post(admin, `/api/downtimes/${r.id}/cancel`, undefined, null)).status, 403);
  assert.equal((await post(viewer, `/api/downtimes/${r.id}/cancel`)).status, 403);
  assert.equal((await check(admin, 'local/dead')).inDowntime, true, 'refused requests changed nothing');
  const cancel = await post(admin, `/api/downtimes/${r.id}/cancel`);
  assert.equal(cancel.status, 200, cancel.body.error);
  assert.equal(cancel.body.message, `downtime #${r.id} of local/dead cancelled`);
  assert.equal((await check(admin, 'local/dead')).inDowntime, false);
  assert.equal((await post(admin, `/api/downtimes/${r.id}/cancel`)).status, 404);
  assert.equal((await post(admin, '/api/downtimes/abc/cancel')).status, 400);
  assert.ok(await audited(admin, 'cancel downtime', 'local/dead'));
  assert.ok((await get<TimelineEntry[]>(admin, '/api/timeline?limit=1000')).some((e) => e.kind === 'downtime' && e.subject === 'local/dead' && /downtime cancelled/.test(e.message)));
  assert.equal((await post(admin, `/api/downtimes/${p.id}/cancel`)).status, 200, 'a pending one too');
  assert.deepEqual(await get<DowntimeView[]>(admin, '/api/downtimes'), []);

  // The same from the command line (control socket of the dashboard's node).
  const ack = await palisade(['ack', 'local/dead', '-m', 'from the cli', '-c', file]);
  assert.equal(ack.code, 0, ack.stderr);
  const rm1 = await palisade(['ack', '--remove', 'local/dead', '-c', file]);
  assert.equal(rm1.code, 0, rm1.stderr);
  assert.equal(rm1.stdout, 'acknowledgement of local/dead removed\n');
  const rm2 = await palisade(['ack', '--remove', 'local/dead', '-c', file]);
  assert.equal(rm2.code, 1);
  assert.match(rm2.stderr, /local\/dead is not acknowledged/);
  const flex = await palisade(['downtime', 'local/alive', '--minutes', '15', '--flexible-within', '90', '-m', 'patching', '-c', file]);
  assert.equal(flex.code, 0, flex.stderr);
  const id = /#(\d+)/.exec(flex.stdout)?.[1];
  assert.ok(id !== undefined, flex.stdout);
  const listed = await palisade(['downtime', '--list', '-c', file]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(`^#${id}\\s+local/alive\\s+pending\\s+flexible 15 min within .* by cli:tester: patching$`, 'm'));
  const cancelled = await palisade(['downtime', '--cancel', id, '-c', file]);
  assert.equal(cancelled.code, 0, cancelled.stderr);
  assert.equal((await palisade(['downtime', '--list', '-c', file])).stdout, 'no downtime scheduled\n');
  assert.equal((await palisade(['downtime', '--cancel', 'x', '-c', file])).code, 2);
  assert.ok((await get<TimelineEntry[]>(admin, '/api/timeline?limit=1000')).some((e) => e.kind === 'audit' && e.actor === 'cli:tester' && e.state === 'cancel downtime'));

  // status --json: the daemon's status and the check summary.
  const st = await palisade(['status', '-c', file, '--json']);
  assert.equal(st.code, 0, st.stderr);
  const js = JSON.parse(st.stdout) as { services: { name: string }[]; checks: { totals: Record<string, number>; problems: CheckView[] } };
  assert.equal(js.services[0]!.name, 'www');
  assert.equal(js.checks.totals.CRITICAL, 1);
  assert.equal(js.checks.totals.OK, 1);
  assert.deepEqual(
    js.checks.problems.map((c) => c.object),
    ['local/dead'],
  );
});
