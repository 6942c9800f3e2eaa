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
import { controlRequest, controlSocketPath } from '../app/control.ts';
import type { DaemonStatus } from '../app/daemon.ts';
import { formatStatus } from '../app/status-text.ts';
import { hashPassword } from '../app/web-auth.ts';
import { errorMessage } from '../core/errors.ts';
import { randomBytes } from 'node:crypto';

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
  directors: Director[];
  /** The dashboard (served by d1) and its logins: an admin and a read-only user with random passwords. */
  dashboard: { url: string; users: { admin: string; viewer: string } };
  stop(): Promise<void>;
}

interface DemoWeb {
  name: string;
  port: number;
  child: ChildProcess | undefined;
}

const WEB_MAIN = fileURLToPath(new URL('./demo-web.ts', import.meta.url));

function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
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

/** The simulated VIP: all of 127/8 is local on Linux, so the master can listen on it. */
const VIP = '127.0.0.100';

interface DemoDashboard {
  port: number;
  adminHash: string;
  viewerHash: string;
}

/** The dashboard on d1 and a monitor with a few checks of the demo servers (docs/dashboard.md). */
function dashboardSection(d: DemoDashboard, proxyPort: number, webs: DemoWeb[]): string {
  return `monitor:
  hosts:
    demo-servers:
      address: 127.0.0.1
      services:
${webs.map((w) => `        ${w.name}-http: { check: { builtin: tcp, port: ${w.port}, timeout: 2s }, check_interval: 5s, retry_interval: 2s, max_check_attempts: 2 }`).join('\n')}
        vip-http: { check: { builtin: http, url: "http://${VIP}:${proxyPort}/health", timeout: 2s }, check_interval: 5s, retry_interval: 2s, max_check_attempts: 2 }
        load: { check: { builtin: load, warning: "15,10,8", critical: "30,25,20" }, check_interval: 10s }
        procs: { check: { builtin: procs }, check_interval: 10s }
        vip-holder: { check: { builtin: vrrp, instance: VI_1 }, check_interval: 5s, retry_interval: 2s, max_check_attempts: 2 }
        www-backends: { check: { builtin: backends, service: www, warning: "${webs.length}:" }, check_interval: 5s, retry_interval: 2s, max_check_attempts: 2 }
web:
  node: d1
  listen: 127.0.0.1:${d.port}
  users:
    admin: { role: admin, password_hash: "${d.adminHash}" }
    viewer: { role: readonly, password_hash: "${d.viewerHash}" }
`;
}

function clusterFile(proxyPort: number, udpPort: number, webs: DemoWeb[], runtimeDir: string, dash: DemoDashboard): string {
  return `# The demo cluster: two directors sharing a virtual IP by VRRP, in front of three
# web servers, all on loopback. Edit this file and run
# \`npx palisade reload -c ${join(runtimeDir, 'cluster.yaml')} --node d1\` (and d2) to apply changes.
cluster:
  name: demo
runtime_dir: ${runtimeDir}
log:
  level: info
  access: true
nodes:
  d1: { address: 127.0.0.1, roles: [director] }
  d2: { address: 127.0.0.2, roles: [director] }
services:
  www:
    listen: ${VIP}:${proxyPort}
    protocol: http
    scheduler: swrr
    backends:
${webs.map((w, i) => `      - { address: 127.0.0.1:${w.port}, name: ${w.name}, weight: ${i === 0 ? 2 : 1} }`).join('\n')}
    health: { type: http, path: /health, interval: 1s, timeout: 1s, rise: 2, fall: 2 }
    passive: { max_fails: 1, fail_timeout: 5s }
    retry: { on: [error, timeout, http_502, http_503] }
vrrp:
  instances:
    VI_1:
      vrid: 51
      interface: lo
      # udp: the VRRP messages over UDP between the two directors, no root needed; the
      # VIP is simulated: the MASTER listens on it, the BACKUP does not.
      transport: udp
      udp_port: ${udpPort}
      advert_interval: 200ms
      virtual_ipaddress: [${VIP}/32]
      members:
        d1: { priority: 150 }
        d2: { priority: 100 }
${dashboardSection(dash, proxyPort, webs)}`;
}

const MAIN = fileURLToPath(new URL('../cli/main.ts', import.meta.url));

interface Director {
  name: string;
  child: ChildProcess | undefined;
}

function startDirector(d: Director, file: string, quiet: boolean): void {
  // The directors' logs go to the terminal, unless the caller collects the output itself (tests).
  const io = quiet ? 'ignore' : 'inherit';
  d.child = fork(MAIN, ['run', '-c', file, '--node', d.name], { stdio: ['ignore', io, io, 'ipc'] });
  const child = d.child;
  child.on('exit', () => {
    if (d.child === child) d.child = undefined;
  });
}

export async function runDemo(opts: DemoOptions): Promise<Demo> {
  const out = opts.out ?? ((s: string) => process.stdout.write(s));
  const dir = await mkdtemp(join(tmpdir(), 'palisade-demo-'));
  let proxyPort = opts.port;
  if (proxyPort !== 0 && !(await portFree(proxyPort, VIP))) {
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
  const directors: Director[] = [
    { name: 'd1', child: undefined },
    { name: 'd2', child: undefined },
  ];
  const file = join(dir, 'cluster.yaml');
  const cleanup = () => {
    for (const w of webs) w.child?.kill('SIGTERM');
    for (const d of directors) d.child?.kill('SIGTERM');
  };
  if (proxyPort === 0) proxyPort = await freePort();
  const url = `http://${VIP}:${proxyPort}/`;
  const passwords = { admin: randomBytes(9).toString('base64url'), viewer: randomBytes(9).toString('base64url') };
  const dash: DemoDashboard = {
    port: opts.port !== 0 && (await portFree(8404)) ? 8404 : await freePort(),
    adminHash: await hashPassword(passwords.admin),
    viewerHash: await hashPassword(passwords.viewer),
  };
  const dashboardUrl = `http://127.0.0.1:${dash.port}/`;
  try {
    await Promise.all(webs.map(startWeb));
    await writeFile(file, clusterFile(proxyPort, await freePort(), webs, dir, dash));
    for (const d of directors) startDirector(d, file, opts.out !== undefined);
    // Ready when d1 (the higher priority) holds the VIP and serves on it.
    await waitServing(url, controlSocketPath(dir, 'demo', 'd1'), 15_000);
  } catch (err) {
    cleanup();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const interactive = opts.interactive ?? process.stdin.isTTY === true;
  const pidOf = (d: Director) => d.child?.pid ?? '-';
  out(`
  Palisade demo is running.

  Open ${url} in a browser (or: curl -s ${url}api) and reload:
  requests go to web1, web2 and web3 by smooth weighted round robin (web1 has weight 2).
  The address ${VIP} is a virtual IP shared by two directors through VRRP
  (over UDP here, no root needed: the MASTER listens on it, the BACKUP does not).

    director d1  priority 150  pid ${pidOf(directors[0]!)}   (starts as MASTER)
    director d2  priority 100  pid ${pidOf(directors[1]!)}
    ${webs.map((w) => `${w.name}  127.0.0.1:${w.port}  pid ${w.child?.pid}`).join('\n    ')}

  Dashboard: ${dashboardUrl}   (served by d1)
    log in as admin / ${passwords.admin}   (or read-only: viewer / ${passwords.viewer})

  Try:
    stop a web server:    kill ${webs[1]!.child?.pid}        (web2${interactive ? '; or type: stop web2' : ''})
    kill the master:      kill ${pidOf(directors[0]!)}        (d1; d2 takes the VIP within a second${interactive ? '; or type: kill d1' : ''})
    watch the traffic:    for i in $(seq 10); do curl -s ${url}api; echo; done
    see who does what:    npx palisade status -c ${file} --node d1   (and --node d2)
    change the cluster:   edit ${file}, then: npx palisade reload -c ${file} --node d1
${interactive ? '    commands here:        stop web2 | start web2 | kill d1 | start d1 | status | quit\n' : ''}
  Requests to a stopped server fail over to the others with no error to the client;
  its health check marks it down within 2 s (status shows it, the log says why),
  and up again 2 s after it is back. A killed master hands the VIP to the backup;
  when it comes back with its higher priority it takes the VIP again.
  Press Ctrl-C to stop the demo.

`);
  for (const w of webs) {
    w.child?.on('exit', () => out(`${w.name} stopped${interactive ? ` (type: start ${w.name})` : ''}\n`));
  }
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    rl?.close();
    const exits = directors.map((d) => (d.child === undefined ? Promise.resolve() : new Promise<void>((r) => d.child!.once('exit', () => r()))));
    cleanup();
    await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 5_000))]);
    await rm(dir, { recursive: true, force: true });
  };
  let rl: ReturnType<typeof createInterface> | undefined;
  if (interactive) {
    rl = createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      const [verb, name] = line.trim().split(/\s+/);
      const web = webs.find((w) => w.name === name);
      const director = directors.find((d) => d.name === name);
      if (verb === 'kill' || (verb === 'start' && director !== undefined)) {
        if (director === undefined) out('which director? d1, d2\n');
        else if (verb === 'kill') {
          if (director.child === undefined) out(`${name} is not running\n`);
          else director.child.kill('SIGKILL');
        } else if (director.child !== undefined) out(`${name} is already running\n`);
        else {
          startDirector(director, file, opts.out !== undefined);
          const started: Director = director;
          out(`${name} started again, pid ${started.child?.pid ?? '-'}\n`);
        }
      } else if ((verb === 'stop' || verb === 'start') && web === undefined) {
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
        void (async () => {
          for (const d of directors) {
            const path = controlSocketPath(dir, 'demo', d.name);
            try {
              const r = (await controlRequest(path, { cmd: 'status' }, 2_000)) as { status: DaemonStatus };
              out(`${formatStatus(r.status)}\n\n`);
            } catch (err) {
              out(`director ${d.name}: ${errorMessage(err)}\n\n`);
            }
          }
        })();
      } else if (verb === 'quit' || verb === 'exit') {
        void stop().then(() => process.exit(0));
      } else if (verb !== undefined && verb !== '') {
        out('commands: stop NAME | start NAME | kill d1|d2 | start d1|d2 | status | quit\n');
      }
    });
  }
  if (opts.out === undefined) {
    const onSignal = () => void stop().then(() => process.exit(0));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  return { url, file, webs, directors, dashboard: { url: dashboardUrl, users: passwords }, stop };
}

/** Waits until the director behind `control` is VRRP MASTER and the VIP answers. */
async function waitServing(url: string, control: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const st = (await controlRequest(control, { cmd: 'status' }, 1_000)) as { status: DaemonStatus };
      if (st.status.vrrp[0]?.state === 'MASTER') {
        const r = await fetch(`${url}api`, { signal: AbortSignal.timeout(1_000) });
        await r.arrayBuffer();
        if (r.ok) return;
      }
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`the demo cluster did not answer on ${url} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
