/**
 * `web.allow` / `web.deny`: the dashboard, its API and /metrics refuse clients by
 * address before anything else (403, nothing rendered), and a reload changes the
 * lists. Clients come from different 127.x source addresses.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Daemon } from '../../src/app/daemon.ts';
import { createLogger } from '../../src/core/logger.ts';
import { freePort, startBackend } from '../helpers/http.ts';

/** GET `path` on 127.0.0.1:`port` from source address `from`; resolves the status and body. */
function get(port: number, path: string, from: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, localAddress: from }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('web.allow / web.deny: refused clients get 403 on the page, the API and /metrics; allowed ones get in; a reload applies new lists', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-web-access-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const b = await startBackend(t, 'web');
  const webPort = await freePort();
  const file = join(dir, 'cluster.yaml');
  const cluster = (access: string) => `cluster: { name: access }
runtime_dir: ${dir}
services:
  www: { listen: 127.0.0.1:0, backends: [${b.address}] }
web:
  listen: 127.0.0.1:${webPort}
  metrics_public: true
${access}
`;
  await writeFile(file, cluster('  allow: [127.0.0.0/30]\n  deny: [127.0.0.2]'));
  const daemon = await Daemon.start({ file, log: createLogger({ level: 'silent', format: 'json' }) });
  t.after(() => daemon.stop(1_000));

  const ok = await get(webPort, '/', '127.0.0.1');
  assert.equal(ok.status, 200);
  assert.match(ok.body, /<div id="app">/);
  assert.equal((await get(webPort, '/metrics', '127.0.0.3')).status, 200, 'in allow, not denied');
  for (const path of ['/', '/api/session', '/metrics', '/assets/app.js']) {
    const denied = await get(webPort, path, '127.0.0.2');
    assert.equal(denied.status, 403, `${path} from a denied address`);
    assert.equal(denied.body, 'forbidden\n', 'nothing else is rendered');
    assert.equal((await get(webPort, path, '127.0.0.9')).status, 403, `${path} from outside allow`);
  }

  await writeFile(file, cluster('  deny: [127.0.0.1]'));
  const r = await daemon.reload();
  assert.equal(r.ok, true, r.errors.join('; '));
  assert.equal((await get(webPort, '/', '127.0.0.1')).status, 403, 'the new deny list applies');
  assert.equal((await get(webPort, '/', '127.0.0.9')).status, 200, 'no allow list: everyone else gets in');
});

test('web.allow / web.deny: a bad range is a config error naming its place', async () => {
  const { parseClusterText } = await import('../../src/config/load.ts');
  const { ConfigError, formatProblem } = await import('../../src/core/errors.ts');
  assert.throws(
    () => parseClusterText('web:\n  deny: [127.0.0.1, 10.0.0.0/33]\n', 'c.yaml', { env: {} }),
    (err: unknown) => err instanceof ConfigError && /c\.yaml:2:\d+: web\.deny\[1\]: /.test(err.problems.map(formatProblem).join('\n')),
  );
});
