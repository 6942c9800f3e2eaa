/**
 * The agent (NRPE's job) between two palisade processes on loopback: the monitor
 * node `mon` (127.0.0.1) and the agent node `a1` (127.0.0.2), one cluster file.
 * Results flow with their whole output and perfdata; a wrong token is refused and
 * runs nothing; a check the cluster file does not define never runs (a plugin that
 * would leave a marker file); push mode brings results the monitor could not fetch.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, request, waitFor } from '../helpers/http.ts';

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
const TOKEN = 'agent-token-0123456789abcdef';
const API_TOKEN = 'api-token-for-the-test-0123456789';

interface Lab {
  dir: string;
  file: string;
  agentPort: number;
  webPort: number;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function lab(t: TestContext, push: boolean, tls?: (dir: string) => Promise<string>): Promise<Lab> {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-agent-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const tlsYaml = tls === undefined ? '' : `, tls: ${await tls(dir)}`;
  const script = async (name: string, body: string) => {
    await writeFile(join(dir, name), `#!/bin/sh\n${body}\n`);
    await chmod(join(dir, name), 0o755);
  };
  // 3,000 characters on the summary line: NRPE cut everything past 1 KiB.
  await script('big.sh', `printf 'BIG WARNING - %s | size=3000B;;;0;\\n' "$(head -c 3000 /dev/zero | tr '\\0' x)"\nexit 1`);
  await script('marker.sh', 'touch "$1"\necho "MARK OK - ran"\nexit 0');
  // In no check of the cluster file: must never run, whatever the request says.
  await script('evil.sh', `touch '${join(dir, 'evil-ran')}'\necho pwned\nexit 0`);
  const [agentPort, webPort] = await Promise.all([freePort(), freePort()]);
  const sha = createHash('sha256').update(API_TOKEN).digest('hex');
  const interval = 'check_interval: 1h, retry_interval: 1h, max_check_attempts: 1';
  const file = join(dir, 'cluster.yaml');
  await writeFile(
    file,
    `cluster: { name: agtest${push ? 'p' : ''} }
runtime_dir: ${join(dir, 'run')}
log: { level: info, format: json }
nodes:
  mon: { address: 127.0.0.1, roles: [] }
  a1: { address: 127.0.0.2, roles: [agent] }
agent: { token: ${TOKEN}, port: ${agentPort}, push: ${push}${tlsYaml} }
web:
  listen: 127.0.0.1:${webPort}
  node: mon
  tokens: [{ name: test, role: readonly, sha256: ${sha} }]
monitor:
  store: { path: ${join(dir, 'monitor.db')} }
  hosts:
    web1:
      address: 127.0.0.2
      run_on: a1
      services:
        big: { check: { plugin: [${join(dir, 'big.sh')}] }, ${interval} }
        mark: { check: { plugin: [${join(dir, 'marker.sh')}, ${join(dir, 'mark-ran')}] }, ${interval} }
`,
  );
  return { dir, file, agentPort, webPort };
}

function start(t: TestContext, l: Lab, cmd: 'run' | 'agent', node: string): { child: ChildProcess; out: () => string } {
  const child = spawn(process.execPath, [MAIN, cmd, '-c', l.file, '--node', node], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return { child, out: () => out };
}

/** POST over HTTPS (the agents' certificates are self-signed here: not verified). */
function post(address: string, port: number, path: string, token: string | undefined, body = '{}'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: address, port, path, method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json', ...(token !== undefined && { authorization: `Bearer ${token}` }) } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface Check {
  object: string;
  state: string;
  output: string;
}

async function checks(l: Lab): Promise<Check[]> {
  try {
    const r = await request(`http://127.0.0.1:${l.webPort}/api/checks`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    return r.status === 200 ? (JSON.parse(r.body) as Check[]) : [];
  } catch {
    return []; // not listening yet
  }
}

async function waitCheck(l: Lab, object: string, cond: (c: Check) => boolean, what: string): Promise<Check> {
  let last: Check | undefined;
  await waitFor(
    async () => {
      last = (await checks(l)).find((c) => c.object === object);
      return last !== undefined && cond(last);
    },
    30_000,
    `${what} (last: ${JSON.stringify(last)?.slice(0, 300)})`,
  );
  return last!;
}

test('agent: a wrong token is refused and nothing runs; only checks of the cluster file run; results flow to the monitor whole', { timeout: 90_000 }, async (t) => {
  const l = await lab(t, false);
  const agent = start(t, l, 'agent', 'a1');
  await waitFor(() => agent.out().includes('agent listening'), 20_000, `the agent to listen (output: ${agent.out()})`);

  // A wrong or missing token: 401, and the check's plugin did not run.
  for (const token of ['wrong-token-0123456789abcdef', undefined]) {
    const r = await post('127.0.0.2', l.agentPort, '/v1/run/web1/mark', token);
    assert.equal(r.status, 401, r.body);
  }
  assert.equal(await exists(join(l.dir, 'mark-ran')), false, 'a refused request ran the plugin');

  // Right token, but checks the cluster file does not define for this node: 404, nothing run.
  for (const path of ['/v1/run/web1/evil', `/v1/run/web1/${encodeURIComponent(join(l.dir, 'evil.sh'))}`, '/v1/run/other/big', '/v1/run/web1/big/../evil', '/v1/results']) {
    const r = await post('127.0.0.2', l.agentPort, path, TOKEN, JSON.stringify({ plugin: [join(l.dir, 'evil.sh')], args: ['-x'] }));
    assert.ok(r.status === 404 || r.status === 400, `${path}: ${r.status} ${r.body}`);
  }
  // Arguments in the body are ignored: the defined check runs as the cluster file says.
  const ran = await post('127.0.0.2', l.agentPort, '/v1/run/web1/mark', TOKEN, JSON.stringify({ plugin: [join(l.dir, 'evil.sh')] }));
  assert.equal(ran.status, 200, ran.body);
  assert.equal((JSON.parse(ran.body) as { summary: string }).summary, 'MARK OK - ran');
  assert.equal(await exists(join(l.dir, 'mark-ran')), true);
  assert.equal(await exists(join(l.dir, 'evil-ran')), false, 'a plugin outside the cluster file ran');

  // The monitor calls the agent: state, the whole output (not cut at 1 KiB), perfdata.
  const mon = start(t, l, 'run', 'mon');
  const big = await waitCheck(l, 'web1/big', (c) => c.state === 'WARNING', 'web1/big WARNING through the agent');
  assert.equal(big.output.length, 'BIG WARNING - '.length + 3000, 'the summary arrived whole');
  await waitCheck(l, 'web1/mark', (c) => c.state === 'OK', 'web1/mark OK through the agent');
  // The perfdata reaches the history store (written in batches, every second by default).
  await waitFor(
    async () => {
      const r = await request(`http://127.0.0.1:${l.webPort}/api/metrics?object=web1/big`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
      return r.body === '["size"]';
    },
    10_000,
    'the perfdata label size of web1/big in the history store',
  );
  assert.equal(await exists(join(l.dir, 'evil-ran')), false);
  assert.match(agent.out(), /request with a wrong or missing token refused/);
  assert.doesNotMatch(mon.out(), /"level":50/, 'the monitor logged no error');
});

test('agent push: results reach the monitor when it cannot call the agent; pushes for other nodes or with a wrong token are refused', { timeout: 90_000 }, async (t) => {
  const l = await lab(t, true);
  // The monitor first, with the agent down: its one call per hour fails.
  const mon = start(t, l, 'run', 'mon');
  await waitFor(() => mon.out().includes('agent listening'), 20_000, 'the monitor to take pushed results');
  const down = await waitCheck(l, 'web1/big', (c) => c.state === 'UNKNOWN', 'web1/big UNKNOWN while the agent is down');
  assert.match(down.output, /agent a1: .*ECONNREFUSED/);

  // Pushes with a wrong token, or for a host that does not run on the pushing node.
  const result = { state: 'CRITICAL', summary: 'forged', perfdata: [] };
  const forged = await post('127.0.0.1', l.agentPort, '/v1/results', 'wrong-token-0123456789abcdef', JSON.stringify({ node: 'a1', results: [{ host: 'web1', service: 'big', result }] }));
  assert.equal(forged.status, 401);
  const other = await post('127.0.0.1', l.agentPort, '/v1/results', TOKEN, JSON.stringify({ node: 'mon', results: [{ host: 'web1', service: 'big', result }] }));
  assert.equal(other.status, 200);
  assert.deepEqual(JSON.parse(other.body), { accepted: 0, rejected: ['web1/big: runs on a1, not on mon'] });
  const garbage = await post('127.0.0.1', l.agentPort, '/v1/results', TOKEN, JSON.stringify({ node: 'a1', results: [{ host: 'web1', service: 'big', result: { state: 'FINE' } }] }));
  assert.equal(garbage.status, 400);
  assert.equal((await checks(l)).find((c) => c.object === 'web1/big')?.state, 'UNKNOWN', 'nothing refused changed the state');

  // The agent starts and pushes: the monitor's next call is an hour away, so these came by push.
  start(t, l, 'agent', 'a1');
  const big = await waitCheck(l, 'web1/big', (c) => c.state === 'WARNING', 'web1/big WARNING by push');
  assert.equal(big.output.length, 'BIG WARNING - '.length + 3000);
  await waitCheck(l, 'web1/mark', (c) => c.state === 'OK', 'web1/mark OK by push');
});

function openssl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => execFile('openssl', args, (err, _o, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve())));
}

/** A CA, and a certificate it signs for both loopback nodes; a second CA that signed nothing of ours. */
async function certificates(dir: string): Promise<void> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(['req', '-x509', ...ec, '-days', '2', '-subj', '/CN=palisade test CA', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt')]);
  await openssl(['req', '-x509', ...ec, '-days', '2', '-subj', '/CN=someone else', '-keyout', join(dir, 'other-ca.key'), '-out', join(dir, 'other-ca.crt')]);
  await openssl(['req', ...ec, '-subj', '/CN=palisade-agent', '-keyout', join(dir, 'node.key'), '-out', join(dir, 'node.csr')]);
  await writeFile(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,IP:127.0.0.2\n');
  await openssl(['x509', '-req', '-in', join(dir, 'node.csr'), '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-days', '2', '-extfile', join(dir, 'san.ext'), '-out', join(dir, 'node.crt')]);
}

test('agent with certificates from the cluster file: verified against tls.ca; a certificate from another CA is refused', { timeout: 90_000 }, async (t) => {
  for (const ca of ['ca.crt', 'other-ca.crt']) {
    const l = await lab(t, false, async (dir) => {
      await certificates(dir);
      return `{ cert: node.crt, key: node.key, ca: ${ca} }`;
    });
    const agent = start(t, l, 'agent', 'a1');
    await waitFor(() => agent.out().includes('agent listening'), 20_000, `the agent to listen (output: ${agent.out()})`);
    assert.doesNotMatch(agent.out(), /self-signed/);
    const mon = start(t, l, 'run', 'mon');
    if (ca === 'ca.crt') {
      const big = await waitCheck(l, 'web1/big', (c) => c.state === 'WARNING', 'web1/big WARNING over verified TLS');
      assert.equal(big.output.length, 'BIG WARNING - '.length + 3000);
    } else {
      const refused = await waitCheck(l, 'web1/big', (c) => c.state === 'UNKNOWN', 'web1/big UNKNOWN: the agent certificate is not from tls.ca');
      assert.match(refused.output, /agent a1: .*(self[- ]signed|unable to (get|verify)|certificate)/i);
      assert.equal(await exists(join(l.dir, 'mark-ran')), false, 'the token went to a peer the monitor could not verify');
    }
    mon.child.kill('SIGTERM');
    agent.child.kill('SIGTERM');
  }
});
