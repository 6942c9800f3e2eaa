/**
 * State retention across a restart of `palisade run` (Nagios retention.dat): a check
 * made CRITICAL (a closed port on 127.0.0.1) is acknowledged from the command line,
 * another gets a downtime, a third an unstarted flexible one; after SIGTERM and a
 * start with the same cluster file, the API shows the acknowledgement (author,
 * comment) and the downtimes as they were, and the webhook receives no new problem
 * notification for the acknowledged and the silenced checks — while a third failing
 * check, neither, goes on being re-notified with its numbering continued. A corrupt
 * retention file: the daemon starts anyway, says so in its log, and checks run; a
 * check removed from the cluster file is dropped from the retained state, logged.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { CheckView, DowntimeView } from '../../src/web/facade.ts';
import { webhookReceiver, type Hook } from '../helpers/webhook.ts';
import { freePort, request, startBackend, waitFor } from '../helpers/http.ts';

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
const TOKEN = 'retention-test-token-0123456789';

/** One `palisade` command to its end. */
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

interface Run {
  child: ChildProcess;
  /** Its log lines so far (JSON). */
  log(): Array<{ level: number; msg: string } & Record<string, unknown>>;
  /** SIGTERM, then its exit code. */
  stop(): Promise<number | null>;
}

/** `palisade run -c file` as a child process; `l.children` kills it by its PID after the test if still running. */
async function run(l: Lab, file: string): Promise<Run> {
  const child = spawn(process.execPath, [MAIN, 'run', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  l.children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await waitFor(() => out.includes('palisade started') || child.exitCode !== null, 15_000, 'daemon start');
  assert.ok(child.exitCode === null, `the daemon exited: ${out}`);
  return {
    child,
    log: () =>
      out
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { level: number; msg: string }),
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

interface Lab {
  /** Daemons started, killed after the test (before the webhook receiver closes: it waits for their connections). */
  children: ChildProcess[];
  dir: string;
  file: string;
  base: string;
  hook: { url: string; got: Hook[] };
  checks(): Promise<CheckView[]>;
  downtimes(): Promise<DowntimeView[]>;
}

/** A cluster file: a dashboard with a read-only token, and a monitor whose services each check one port with `max_check_attempts: 1`, re-notifying every second. */
async function lab(t: TestContext, services: (alive: number) => Record<string, number>): Promise<Lab & { write(names?: string[]): Promise<void> }> {
  const children: ChildProcess[] = [];
  t.after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  const dir = await mkdtemp(join(tmpdir(), 'palisade-retention-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const hook = await webhookReceiver(t);
  const up = await startBackend(t, 'up');
  const webPort = await freePort();
  const ports = services(up.port);
  const sha = createHash('sha256').update(TOKEN).digest('hex');
  const file = join(dir, 'cluster.yaml');
  const base = `http://127.0.0.1:${webPort}`;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const get = async <T>(path: string): Promise<T> => {
    const r = await request(`${base}${path}`, { headers: auth });
    assert.equal(r.status, 200, `${path}: ${r.body}`);
    return JSON.parse(r.body) as T;
  };
  const write = (names = Object.keys(ports)) =>
    writeFile(
      file,
      `cluster: { name: retention }
runtime_dir: ${dir}
log: { format: json }
services:
  www:
    listen: 127.0.0.1:0
    backends: [${up.address}]
web:
  listen: 127.0.0.1:${webPort}
  tokens: [{ name: reader, role: readonly, sha256: ${sha} }]
monitor:
  contacts:
    ops: { webhook: "${hook.url}" }
  delivery: { backoff: 100ms, attempts: 1 }
  hosts:
    local:
      address: 127.0.0.1
      services:
${names.map((n) => `        ${n}: { check: { builtin: tcp, port: ${ports[n]}, timeout: 1s }, max_check_attempts: 1, check_interval: 1s, notification_interval: 1s, contacts: [ops] }`).join('\n')}
`,
    );
  await write();
  return { children, dir, file, base, hook, write, checks: () => get<CheckView[]>('/api/checks'), downtimes: () => get<DowntimeView[]>('/api/downtimes') };
}

const problems = (got: readonly Hook[], service: string) => got.filter((h) => h.type === 'PROBLEM' && h.service === service);
const numberOf = (h: Hook) => (h as Hook & { number: number }).number;

test('acknowledgements and downtime survive SIGTERM and a start with the same file; no new problem notification for them', { timeout: 120_000 }, async (t) => {
  const [acked, maint, control] = await Promise.all([freePort(), freePort(), freePort()]);
  const l = await lab(t, (alive) => ({ acked, maint, control, alive }));
  const retentionFile = join(l.dir, 'monitor-retention.json');
  const check = async (object: string) => (await l.checks()).find((c) => c.object === `local/${object}`);

  const first = await run(l, l.file);
  await waitFor(() => ['acked', 'maint', 'control'].every((s) => problems(l.hook.got, s).length > 0), 20_000, 'PROBLEM notifications of the three dead ports');
  assert.equal((await check('alive'))?.state, 'OK');

  // The operator's actions, from the command line (control socket).
  const ack = await palisade(['ack', 'local/acked', '-m', 'disk on order, until Friday', '--sticky', '-c', l.file]);
  assert.equal(ack.code, 0, ack.stderr);
  const dt = await palisade(['downtime', 'local/maint', '--minutes', '30', '-m', 'switch firmware', '-c', l.file]);
  assert.equal(dt.code, 0, dt.stderr);
  const flex = await palisade(['downtime', 'local/alive', '--minutes', '15', '--flexible-within', '90', '-m', 'if it fails', '-c', l.file]);
  assert.equal(flex.code, 0, flex.stderr);
  const before = await l.downtimes();
  assert.equal(before.length, 2);
  assert.equal((await check('acked'))?.ack?.author, 'cli:tester');

  // Written right after the actions, not at the next interval (60 s).
  await waitFor(
    async () => {
      const text = await readFile(retentionFile, 'utf8').catch(() => '');
      return text.includes('disk on order, until Friday') && text.includes('switch firmware') && text.includes('if it fails');
    },
    5_000,
    'the acknowledgement and both downtimes in the retention file',
  );

  assert.equal(await first.stop(), 0, 'stopped cleanly by SIGTERM');
  const seenBefore = l.hook.got.length;
  const lastControl = Math.max(...problems(l.hook.got, 'control').map(numberOf));
  const restartedAt = Date.now();

  const second = await run(l, l.file);
  assert.ok(
    second.log().some((e) => e.level === 30 && /^monitor: retained state restored from .*monitor-retention\.json: 5 hosts and services, 1 acknowledgements, 2 downtimes$/.test(e.msg)),
    JSON.stringify(second.log().filter((e) => /retain/.test(e.msg))),
  );
  // Checks run again (every second) and the un-silenced failing check is re-notified, its numbering continued.
  await waitFor(() => problems(l.hook.got.slice(seenBefore), 'control').length >= 2, 20_000, 'two re-notifications of local/control after the restart');
  await waitFor(async () => ((await check('acked'))?.lastCheck ?? 0) > restartedAt && ((await check('maint'))?.lastCheck ?? 0) > restartedAt, 10_000, 'acked and maint checked after the restart');
  const after = l.hook.got.slice(seenBefore);
  assert.ok(numberOf(problems(after, 'control')[0]!) > lastControl, `control's numbering goes on: ${numberOf(problems(after, 'control')[0]!)} after ${lastControl}`);

  const a = await check('acked');
  assert.equal(a?.state, 'CRITICAL');
  assert.deepEqual(a?.ack && { author: a.ack.author, comment: a.ack.comment, sticky: a.ack.sticky }, { author: 'cli:tester', comment: 'disk on order, until Friday', sticky: true });
  assert.deepEqual(await l.downtimes(), before, 'the same downtimes: ids, windows, started or pending');
  assert.equal((await check('maint'))?.inDowntime, true);
  assert.equal((await check('alive'))?.inDowntime, false, 'the flexible downtime is still pending');
  assert.deepEqual(
    after.filter((h) => h.service !== 'control').map((h) => `${h.type} ${h.service}`),
    [],
    'no PROBLEM for the acknowledged or silenced checks, no ACKNOWLEDGEMENT or DOWNTIMESTART again',
  );
  assert.equal(await second.stop(), 0);
});

test('a corrupt retention file: the daemon starts, warns naming the file and why, checks run; a check removed from the file is dropped', { timeout: 120_000 }, async (t) => {
  const dead = await freePort();
  const l = await lab(t, (alive) => ({ dead, alive }));
  const retentionFile = join(l.dir, 'monitor-retention.json');
  await writeFile(retentionFile, '{"version": 1, "saved": 17');

  const first = await run(l, l.file);
  const warn = first.log().find((e) => e.level === 40 && /retained state/.test(e.msg));
  assert.ok(warn, JSON.stringify(first.log().filter((e) => /retain/.test(e.msg))));
  assert.equal(warn.file, retentionFile);
  assert.match(warn.msg, /^monitor: retained state in .*monitor-retention\.json not used: not JSON \(.*\); starting fresh \(the file is kept as .*monitor-retention\.json\.rejected\)$/);
  assert.equal(await readFile(`${retentionFile}.rejected`, 'utf8'), '{"version": 1, "saved": 17');
  await waitFor(async () => (await l.checks()).find((c) => c.object === 'local/dead')?.state === 'CRITICAL', 20_000, 'local/dead checked: CRITICAL');
  assert.equal(await first.stop(), 0);
  await access(retentionFile); // a good one, written at shutdown

  // The next start without `alive` in the cluster file: its retained state is dropped, said at info.
  await l.write(['dead']);
  const second = await run(l, l.file);
  const dropped = second.log().find((e) => /no longer in the cluster file/.test(e.msg));
  assert.ok(dropped, JSON.stringify(second.log().filter((e) => /retain/.test(e.msg))));
  assert.equal(dropped.level, 30);
  assert.equal(dropped.msg, 'monitor: retained state of 1 hosts and services no longer in the cluster file dropped');
  assert.deepEqual(dropped.objects, ['local/alive']);
  assert.ok(second.log().some((e) => /^monitor: retained state restored from .*: 2 hosts and services, 0 acknowledgements, 0 downtimes$/.test(e.msg)));
  assert.equal(await second.stop(), 0);
});
