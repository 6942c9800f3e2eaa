/**
 * `palisade demo`: a small complete cluster on loopback, no root needed: three demo
 * web servers (each its own process) and the load balancer in front of them,
 * driven by a real cluster file written to a temporary directory.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Daemon } from '../app/daemon.ts';
import { formatStatus } from '../cli/format.ts';

export interface DemoOptions {
  /** Port of the load balancer on 127.0.0.1; the web servers take the next three if free. 0 = any. */
  port: number;
  /** Write the banner and command output here; default standard output. */
  out?: (s: string) => void;
  /** Read commands from standard input. Default: when it is a terminal. */
  interactive?: boolean;
}

export interface Demo {
  url: string;
  file: string;
  webs: DemoWeb[];
  daemon: Daemon;
  stop(): Promise<void>;
}

interface DemoWeb {
  name: string;
  port: number;
  child: ChildProcess | undefined;
}

const WEB_MAIN = fileURLToPath(new URL('./demo-web.ts', import.meta.url));

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const p = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(p));
    });
  });
}

function startWeb(web: DemoWeb): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = fork(WEB_MAIN, [web.name, String(web.port)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    web.child = child;
    child.once('message', (m: { type: string; port: number }) => {
      if (m.type === 'listening') {
        web.port = m.port;
        resolve();
      }
    });
    child.once('exit', (code) => {
      if (web.child === child) web.child = undefined;
      reject(new Error(`${web.name} exited with code ${code}`));
    });
  });
}

function clusterFile(proxyPort: number, webs: DemoWeb[], runtimeDir: string): string {
  return `# The demo cluster: one director in front of three web servers, all on loopback.
# Edit this file and run \`npx palisade reload -c ${join(runtimeDir, 'cluster.yaml')}\` to apply changes.
cluster:
  name: demo
runtime_dir: ${runtimeDir}
log:
  level: info
  access: true
nodes:
  director:
    address: 127.0.0.1
    roles: [director]
services:
  www:
    listen: 127.0.0.1:${proxyPort}
    protocol: http
    scheduler: swrr
    backends:
${webs.map((w, i) => `      - { address: 127.0.0.1:${w.port}, name: ${w.name}, weight: ${i === 0 ? 2 : 1} }`).join('\n')}
    health: { type: http, path: /health, interval: 1s, timeout: 1s, rise: 2, fall: 2 }
    passive: { max_fails: 1, fail_timeout: 5s }
    retry: { on: [error, timeout, http_502, http_503] }
`;
}

export async function runDemo(opts: DemoOptions): Promise<Demo> {
  const out = opts.out ?? ((s: string) => process.stdout.write(s));
  const dir = await mkdtemp(join(tmpdir(), 'palisade-demo-'));
  let proxyPort = opts.port;
  if (proxyPort !== 0 && !(await portFree(proxyPort))) {
    const alt = await freePort();
    out(`port ${proxyPort} is taken; using ${alt} instead\n`);
    proxyPort = alt;
  }
  const webs: DemoWeb[] = [];
  for (let i = 1; i <= 3; i++) {
    const wanted = proxyPort === 0 ? 0 : proxyPort + i;
    const port = wanted !== 0 && wanted <= 65535 && (await portFree(wanted)) ? wanted : 0;
    webs.push({ name: `web${i}`, port, child: undefined });
  }
  const cleanupWebs = () => {
    for (const w of webs) w.child?.kill('SIGTERM');
  };
  let daemon: Daemon;
  try {
    await Promise.all(webs.map(startWeb));
    if (proxyPort === 0) proxyPort = await freePort();
    const file = join(dir, 'cluster.yaml');
    await writeFile(file, clusterFile(proxyPort, webs, dir));
    daemon = await Daemon.start({ file });
  } catch (err) {
    cleanupWebs();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const file = join(dir, 'cluster.yaml');
  const url = `http://127.0.0.1:${proxyPort}/`;
  const interactive = opts.interactive ?? process.stdin.isTTY === true;
  out(`
  Palisade demo is running.

  Open ${url} in a browser (or: curl -s ${url}api) and reload:
  requests go to web1, web2 and web3 by smooth weighted round robin (web1 has weight 2).

    ${webs.map((w) => `${w.name}  127.0.0.1:${w.port}  pid ${w.child?.pid}`).join('\n    ')}

  Try:
    stop a web server:    kill ${webs[1]!.child?.pid}        (web2; ${interactive ? 'or type: stop web2' : 'the demo restarts none by itself'})
    watch the traffic:    for i in $(seq 10); do curl -s ${url}api; echo; done
    see the backends:     npx palisade status -c ${file}
    change the cluster:   edit ${file}, then: npx palisade reload -c ${file}
${interactive ? '    commands here:        stop web2 | start web2 | status | quit\n' : ''}
  Requests to a stopped server fail over to the others with no error to the client;
  its health check marks it down within 2 s (status shows it, the log says why),
  and up again 2 s after it is back.
  Press Ctrl-C to stop the demo.

`);
  for (const w of webs) {
    w.child?.on('exit', () => daemon.log.warn({ web: w.name }, `${w.name} stopped${interactive ? ` (type: start ${w.name})` : ''}`));
  }
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    rl?.close();
    await daemon.stop(2_000);
    cleanupWebs();
    await rm(dir, { recursive: true, force: true });
  };
  let rl: ReturnType<typeof createInterface> | undefined;
  if (interactive) {
    rl = createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      const [verb, name] = line.trim().split(/\s+/);
      const web = webs.find((w) => w.name === name);
      if ((verb === 'stop' || verb === 'start') && web === undefined) {
        out(`which server? ${webs.map((w) => w.name).join(', ')}\n`);
      } else if (verb === 'stop') {
        if (web!.child === undefined) out(`${web!.name} is not running\n`);
        else web!.child.kill('SIGKILL');
      } else if (verb === 'start') {
        if (web!.child !== undefined) out(`${web!.name} is already running\n`);
        else
          startWeb(web!).then(
            () => out(`${web!.name} started again, pid ${web!.child?.pid}\n`),
            (err: unknown) => out(`${String(err)}\n`),
          );
      } else if (verb === 'status') {
        void daemon.status().then((st) => out(`${formatStatus(st)}\n`));
      } else if (verb === 'quit' || verb === 'exit') {
        void stop().then(() => process.exit(0));
      } else if (verb !== undefined && verb !== '') {
        out('commands: stop NAME | start NAME | status | quit\n');
      }
    });
  }
  if (opts.out === undefined) {
    const onSignal = () => void stop().then(() => process.exit(0));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    process.on('SIGHUP', () => void daemon.reload());
  }
  return { url, file, webs, daemon, stop };
}
