/** The `palisade` command as a user runs it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, request, startBackend, waitFor } from '../helpers/http.ts';

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

function palisade(args: string[], opts: { timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

async function tempFile(t: import('node:test').TestContext, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'cluster.yaml');
  await writeFile(file, text);
  return file;
}

test('validate prints every problem with line, column and path, and exits non-zero', async (t) => {
  const file = await tempFile(t, 'services:\n  www:\n    listen: 127.0.0.1:8080\n    backends:\n      - 127.0.0.1:9001\n      - { address: 127.0.0.1, port: 0 }\n    retry: { tries: many }\n');
  const r = await palisade(['validate', '-c', file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`${file}:6:\\d+: services\\.www\\.backends\\[1\\]\\.port: expected a port number`));
  assert.match(r.stderr, new RegExp(`${file}:7:\\d+: services\\.www\\.retry\\.tries: expected number`));
  assert.match(r.stderr, /2 problem\(s\) in the cluster file; nothing was started or changed/);
});

test('validate of a good file prints a one-line summary', async (t) => {
  const file = await tempFile(t, 'cluster: { name: shop }\nservices:\n  www:\n    listen: 8080\n    backends: [10.0.0.1:80, 10.0.0.2:80]\n');
  const r = await palisade(['validate', '-c', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${file}: ok: cluster shop, 0 node(s), 1 service(s), 2 backend(s)\n`);
});

test('run with an invalid file starts nothing and exits non-zero with the same messages', async (t) => {
  const file = await tempFile(t, 'services:\n  www:\n    listen: 127.0.0.1:0\n    backends: []\n');
  const r = await palisade(['run', '-c', file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cluster\.yaml:4:15: services\.www\.backends: expected at least one backend/);
  assert.equal(r.stdout, '', 'nothing was started, nothing logged');
});

test('run serves, status shows the backends, reload applies, SIGTERM stops gracefully', async (t) => {
  const b = await startBackend(t, 'one');
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'palisade-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'cluster.yaml');
  const text = (extra: string) => `runtime_dir: ${dir}\nlog: { format: json }\nservices:\n  www:\n    listen: 127.0.0.1:${port}\n    backends:\n      - ${b.address}\n${extra}`;
  await writeFile(file, text(''));
  const child = spawn(process.execPath, [MAIN, 'run', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  t.after(() => child.kill('SIGKILL'));
  await waitFor(() => out.includes('palisade started'), 10_000, 'daemon start');
  assert.equal((await request(`http://127.0.0.1:${port}/`)).body, 'one\n');
  const st = await palisade(['status', '-c', file]);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, new RegExp(`${b.address.replace(/\./g, '\\.')}\\s+up\\s+1\\s+0\\s+\\d+\\s+1\\s+0`));
  const js = JSON.parse((await palisade(['status', '-c', file, '--json'])).stdout) as { services: { name: string }[] };
  assert.equal(js.services[0]!.name, 'www');
  // A broken file: reload refused, old config keeps serving.
  await writeFile(file, text('    scheduler: nope\n'));
  const bad = await palisade(['reload', '-c', file.replace('cluster.yaml', 'cluster.yaml')]);
  assert.equal(bad.code, 1, 'reload refused');
  assert.match(bad.stderr, /cluster\.yaml:8:16: services\.www\.scheduler: expected a scheduler name/);
  assert.equal((await request(`http://127.0.0.1:${port}/`)).body, 'one\n');
  await writeFile(file, text('    scheduler: rr\n'));
  const good = await palisade(['reload', '-c', file]);
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /reloaded .*: 1 service\(s\)/);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

test('workers: 2 share the listener, both follow health decisions, and a crashed worker is restarted knowing them', async (t) => {
  const b = await startBackend(t, 'one');
  const sick = await startBackend(t, 'sick');
  await sick.close();
  const dir = await mkdtemp(join(tmpdir(), 'palisade-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort();
  const file = join(dir, 'cluster.yaml');
  await writeFile(file, `runtime_dir: ${dir}\nlog: { format: json, access: false }\nnodes:\n  lb: { address: 127.0.0.1, workers: 2 }\nservices:\n  www:\n    listen: 127.0.0.1:${port}\n    backends: [${b.address}, ${sick.address}]\n    health: { type: tcp, interval: 100ms }\n    passive: { max_fails: 0 }\n`);
  const child = spawn(process.execPath, [MAIN, 'run', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  t.after(() => child.kill('SIGKILL'));
  await waitFor(() => out.includes('palisade started'), 15_000, 'daemon start');
  type St = { workers: number; services: { backends: { id: string; status: string; requests: number }[] }[] };
  const status = async () => JSON.parse((await palisade(['status', '-c', file, '--json'])).stdout) as St;
  await waitFor(async () => (await status()).services[0]!.backends[1]!.status === 'down', 5_000, 'sick backend down');
  const sickRequests = async () => (await status()).services[0]!.backends[1]!.requests;
  const before = await sickRequests();
  for (let i = 0; i < 20; i++) assert.equal((await request(`http://127.0.0.1:${port}/`)).status, 200);
  const st = await status();
  assert.equal(st.workers, 2);
  assert.equal(st.services[0]!.backends[0]!.requests, 20, 'counters summed over both workers');
  assert.equal(await sickRequests(), before, 'no worker sent a request to the down backend');
  // Kill one worker: the primary logs it and starts another; traffic keeps flowing.
  const { execFileSync } = await import('node:child_process');
  const pids = execFileSync('ps', ['-o', 'pid=', '--ppid', String(child.pid)]).toString().trim().split(/\s+/).map(Number);
  assert.equal(pids.length, 2, 'two worker processes');
  process.kill(pids[0]!, 'SIGKILL');
  await waitFor(() => out.includes('proxy worker exited; restarting it'), 5_000, 'restart log');
  await waitFor(() => {
    const now = execFileSync('ps', ['-o', 'pid=', '--ppid', String(child.pid)]).toString().trim().split(/\s+/).filter((x) => x !== '');
    return now.length === 2 && !now.map(Number).includes(pids[0]!);
  }, 10_000, 'replacement worker');
  const afterRestart = await sickRequests();
  for (let i = 0; i < 10; i++) assert.equal((await request(`http://127.0.0.1:${port}/`)).status, 200);
  assert.equal(await sickRequests(), afterRestart, 'the new worker was told the backend is down');
  // A SIGHUP reloads too.
  child.kill('SIGHUP');
  await waitFor(() => out.includes('reloaded'), 5_000, 'reload on SIGHUP');
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
