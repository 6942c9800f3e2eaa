/**
 * What reaching a peer costs the dashboard's node: one `status` and one `events`
 * call to a director running in another process, through the node API over HTTPS
 * (the peer's control socket not on this host: its own runtime directory) and
 * through its control socket (same runtime directory, as in the demo).
 *
 *   node_modules/.bin/node bench/peers.ts [--calls 200]
 *
 * The director runs `palisade run` on 127.0.0.2 with the `agent:` section (self-signed
 * certificate); calls are sequential, after one warm-up call (keep-alive HTTPS, so the
 * TLS handshake is not counted). Everything stays on loopback and ends by itself.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PeerLink } from '../src/app/peers.ts';
import { loadClusterFile } from '../src/config/load.ts';
import { createLogger } from '../src/core/logger.ts';
import { freePort } from '../test/helpers/http.ts';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '200' } } });
const calls = Math.max(1, Math.min(10_000, Number(values.calls) || 200));
const dir = await mkdtemp(join(tmpdir(), 'palisade-bench-peers-'));
const [agentPort, proxyPort] = [await freePort(), await freePort()];
const text = (runtimeDir: string) => `cluster: { name: benchpeers }
runtime_dir: ${runtimeDir}
log: { level: warn }
nodes:
  mon: { address: 127.0.0.1, roles: [] }
  d1: { address: 127.0.0.2, roles: [director] }
agent: { token: bench-peers-token-0123456789, port: ${agentPort} }
services:
  www: { listen: '127.0.0.2:${proxyPort}', backends: ['127.0.0.1:9'] }
`;
await writeFile(join(dir, 'd1.yaml'), text(join(dir, 'run-d1')));
await writeFile(join(dir, 'mon.yaml'), text(join(dir, 'run-mon')));
const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'src', 'cli', 'main.ts'), 'run', '-c', join(dir, 'd1.yaml'), '--node', 'd1'], { stdio: 'ignore' });
try {
  for (const [what, file] of [
    ['node API over HTTPS (other runtime dir)', 'mon.yaml'],
    ['control socket (same runtime dir)', 'd1.yaml'],
  ] as const) {
    const cfg = (await loadClusterFile(join(dir, file))).config;
    const link = new PeerLink({ config: () => cfg, baseDir: dir, log: createLogger({ level: 'silent', format: 'json' }) });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await link.status('d1', 700); // warm-up, and waits for the director to start
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) await link.status('d1', 700);
    const status = (performance.now() - t0) / calls;
    const t1 = performance.now();
    for (let i = 0; i < calls; i++) await link.events('d1', 0, 700);
    const events = (performance.now() - t1) / calls;
    process.stdout.write(`${what}: status ${status.toFixed(2)} ms, events ${events.toFixed(2)} ms per call (${calls} sequential calls each)\n`);
    link.close();
  }
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await rm(dir, { recursive: true, force: true });
}
