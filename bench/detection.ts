/**
 * How long a dead backend keeps being chosen: from the moment a backend dies (its
 * listener closes and its connections reset) to the last request the proxy sent to
 * it, and to the moment it shows as down, under continuous GET load, on 127.0.0.1.
 *
 *   node bench/detection.ts [--trials 5]
 *
 * Modes: active checks only (http, interval 1s, fall 3), passive detection only
 * (max_fails 1), and both. Also counts client requests that failed (expected: 0,
 * the proxy retries on the next backend).
 */
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { Daemon } from '../src/app/daemon.ts';

const { values } = parseArgs({ options: { trials: { type: 'string', default: '5' } } });
const trials = Number(values.trials);

interface Web {
  server: Server;
  port: number;
  sockets: Set<Socket>;
}

async function startWeb(name: string): Promise<Web> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-length': String(name.length) });
    res.end(name);
    void req;
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, sockets };
}

function kill(w: Web): void {
  w.server.close();
  for (const s of w.sockets) s.resetAndDestroy();
}

const MODES: Record<string, string> = {
  'active (interval 1s, fall 3)': '    health: { type: http, interval: 1s, timeout: 500ms, fall: 3, rise: 2 }\n    passive: { max_fails: 0 }',
  'passive (max_fails 1)': '    passive: { max_fails: 1, fail_timeout: 10s }',
  'active + passive': '    health: { type: http, interval: 1s, timeout: 500ms, fall: 3, rise: 2 }\n    passive: { max_fails: 1, fail_timeout: 10s }',
};

interface Trial {
  lastChosenMs: number;
  downMs: number;
  failed: number;
  requests: number;
}

async function trial(extra: string): Promise<Trial> {
  const webs = await Promise.all(['a', 'b', 'c'].map(startWeb));
  const dir = await mkdtemp(join(tmpdir(), 'palisade-detect-'));
  const file = join(dir, 'cluster.yaml');
  await writeFile(file, `log: { level: warn, access: false }\nservices:\n  www:\n    listen: 127.0.0.1:0\n    backends: [${webs.map((w) => `127.0.0.1:${w.port}`).join(', ')}]\n${extra}\n`);
  const daemon = await Daemon.start({ file, log: pino({ level: 'silent' }), controlSocket: false });
  const port = daemon.proxy!.boundPort('www');
  const deadId = `127.0.0.1:${webs[1]!.port}`;
  const state = { run: true };
  let failed = 0;
  let requests = 0;
  const loop = async () => {
    while (state.run) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/`);
        await r.arrayBuffer();
        requests++;
        if (r.status !== 200) failed++;
      } catch {
        failed++;
      }
    }
  };
  const loops = [loop(), loop(), loop(), loop()];
  await new Promise((r) => setTimeout(r, 1_500 + Math.random() * 1_000)); // a random phase against the check timer
  const dead = daemon.proxy!.service('www')!.backend(deadId)!;
  const t0 = performance.now();
  kill(webs[1]!);
  let last = dead.requests;
  let lastChosen = t0;
  let down = -1;
  while (performance.now() - t0 < 6_000) {
    await new Promise((r) => setTimeout(r, 5));
    if (dead.requests !== last) {
      last = dead.requests;
      lastChosen = performance.now();
    }
    if (down < 0 && dead.status() !== 'up') down = performance.now() - t0;
  }
  state.run = false;
  await Promise.all(loops);
  await daemon.stop(500);
  for (const w of webs) kill(w);
  await rm(dir, { recursive: true, force: true });
  return { lastChosenMs: lastChosen - t0, downMs: down, failed, requests };
}

const fmt = (xs: number[]) => {
  const s = xs.toSorted((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)]!.toFixed(0)} ms, min ${s[0]!.toFixed(0)}, max ${s.at(-1)!.toFixed(0)}`;
};

console.log(`detection time, ${trials} trials per mode, 3 backends, 4 client loops on 127.0.0.1, node ${process.version}\n`);
for (const [mode, extra] of Object.entries(MODES)) {
  const results: Trial[] = [];
  for (let i = 0; i < trials; i++) results.push(await trial(extra));
  console.log(`${mode}`);
  console.log(`  death -> last request chosen for it: ${fmt(results.map((r) => r.lastChosenMs))}`);
  console.log(`  death -> marked down:                ${fmt(results.map((r) => (r.downMs < 0 ? Infinity : r.downMs)))}`);
  console.log(`  failed client requests: ${results.map((r) => r.failed).join(', ')} (of ${results.map((r) => r.requests).join(', ')})\n`);
}
