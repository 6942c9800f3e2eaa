/**
 * Dashboard page load at scale: 50 services × 10 backends and 1,000 checks, served
 * by the real WebServer over a made-up facade, loaded in Debian's chromium on
 * loopback. Measures from navigation (already logged in) until every backend row
 * and the check table are rendered (with the page's own milestones), the size of
 * the first events, then what the live updates cost the open page over a few
 * seconds: main-thread time (CDP Performance.getMetrics TaskDuration) and stream
 * bytes, for an idle cluster (only the clock moves) and a busy one (every
 * backend's counters move on every snapshot, as under traffic).
 *
 *   node bench/web.ts [runs]
 */
import { chromium } from 'playwright-core';
import { createLogger } from '../src/core/logger.ts';
import { webSchema } from '../src/config/web-schema.ts';
import { hashPassword } from '../src/web/auth.ts';
import type { CheckView, ClusterSnapshot, WebFacade } from '../src/web/facade.ts';
import { WebServer } from '../src/web/server.ts';

const runs = Number(process.argv[2] ?? 5);
const SERVICES = 50;
const BACKENDS = 10;
const CHECKS = 1_000;
const states = ['OK', 'OK', 'OK', 'OK', 'OK', 'OK', 'OK', 'WARNING', 'CRITICAL', 'UNKNOWN'];

const web = webSchema.parse({ listen: '127.0.0.1:0', users: { admin: { role: 'admin', password_hash: await hashPassword('bench-password') } } });
const start = Date.now();
/** Busy cluster: every backend's requests and connections move on each snapshot. */
let traffic = false;
let calls = 0;
function snapshot(): ClusterSnapshot {
  const n = traffic ? ++calls : 0;
  const services = Array.from({ length: SERVICES }, (_, s) => ({
    name: `svc${s}`,
    listen: [`10.0.0.1:${8000 + s}`],
    scheduler: 'swrr',
    requests: 1000 * s,
    panic: false,
    quorumLost: false,
    backends: Array.from({ length: BACKENDS }, (_unused, b) => ({ id: `10.1.${s}.${b}:80`, name: `s${s}b${b}`, backup: false, weight: 1, effectiveWeight: 1, status: b === 3 ? 'down' : 'up', check: { type: 'http', last: 'L7_OK 200', since: start }, active: (b + n) % 7, inactive: 2 * b, requests: 100 * b + 13 * n * (b + 1), failures: 0 })),
  }));
  return {
    cluster: 'bench',
    node: 'm1',
    time: Date.now(),
    nodes: [{ name: 'm1', address: '127.0.0.1', roles: ['director', 'monitor'], self: true, reachable: true, status: { cluster: 'bench', node: 'm1', pid: 1, workers: 1, config: '', services, vrrp: [] } }],
    vrrp: [],
    checkTotals: {},
  };
}
const checks: CheckView[] = Array.from({ length: CHECKS }, (_, i) => ({ object: `host${Math.floor(i / 10)}/svc${i % 10}`, host: `host${Math.floor(i / 10)}`, service: `svc${i % 10}`, kind: 'tcp', state: states[i % 10]!, stateType: 'HARD', attempt: 1, maxAttempts: 3, output: `TCP OK - 0.00${i % 10} second response time`, lastCheck: start, lastStateChange: start - i * 1000, flapping: false, inDowntime: false, downtimes: [] }));
const facade: WebFacade = {
  webConfig: () => web,
  users: () => Promise.resolve(web.users),
  snapshot: () => Promise.resolve(snapshot()),
  checks: () => checks,
  timeline: () => [],
  onTimeline: () => () => undefined,
  operateBackend: () => Promise.resolve({ ok: true, message: '' }),
  acknowledge: () => ({ ok: true, message: '' }),
  removeAcknowledgement: () => ({ ok: true, message: '' }),
  scheduleDowntime: () => ({ ok: true, message: '' }),
  cancelDowntime: () => ({ ok: true, message: '' }),
  downtimes: () => [],
  recheck: () => Promise.resolve({ ok: true, message: '' }),
  metrics: () => Promise.resolve([]),
  series: () => Promise.resolve(undefined),
  audit: () => undefined,
};
const server = new WebServer({ facade, log: createLogger({ level: 'silent', format: 'json' }), baseDir: '.' });
await server.start();
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
const ctx = await browser.newContext({ viewport: { width: 1366, height: 900 } });
const page = await ctx.newPage();
await page.goto(server.url);
await page.fill('input[name=user]', 'admin');
await page.fill('input[name=password]', 'bench-password');
await page.click('button[type=submit]');
await page.waitForSelector('[data-live="true"]');
const times: number[] = [];
/** Milestones inside the page, ms from navigation start (performance marks set by src/web/ui/main.ts). */
const PHASES = ['html', 'app.js', 'app', 'session', 'stream', 'snapshot', 'checks', 'rows'] as const;
const phases = new Map<string, number[]>(PHASES.map((p) => [p, []]));
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  await page.goto(server.url);
  const rows = await page.waitForFunction((n) => (document.querySelectorAll('#services tr[data-backend]').length === n && document.querySelectorAll('#checks tr[data-check]').length > 0 ? performance.now() : 0), SERVICES * BACKENDS);
  times.push(performance.now() - t0);
  const rowsAt = (await rows.jsonValue()) as number;
  const at = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
    const js = performance.getEntriesByType('resource').find((r) => /app[.-][^/]*js$|app\.js/.test(r.name)) as PerformanceResourceTiming | undefined;
    const marks = Object.fromEntries(['app', 'session', 'stream', 'snapshot', 'checks'].map((n) => [n, performance.getEntriesByName(`pal:${n}`)[0]?.startTime ?? NaN]));
    return { html: nav?.responseEnd ?? NaN, 'app.js': js?.responseEnd ?? NaN, ...marks };
  });
  for (const [k, v] of Object.entries({ ...at, rows: rowsAt })) phases.get(k)?.push(v);
}
/** Main-thread busy share and stream bytes per second of the open page, over `ms`. */
async function liveCost(ms: number): Promise<{ busy: number; kibPerS: number }> {
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Performance.enable');
  await cdp.send('Network.enable');
  let bytes = 0;
  cdp.on('Network.dataReceived', (e: { dataLength: number }) => (bytes += e.dataLength));
  const task = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m: { name: string }) => m.name === 'TaskDuration')?.value ?? 0;
  const before = await task();
  await new Promise((r) => setTimeout(r, ms));
  const busy = (await task()) - before;
  await cdp.detach();
  return { busy: busy / (ms / 1000), kibPerS: bytes / 1024 / (ms / 1000) };
}
await page.goto(server.url);
await page.waitForSelector('[data-live="true"]');
await new Promise((r) => setTimeout(r, 1000));
const idle = await liveCost(5_000);
traffic = true;
await new Promise((r) => setTimeout(r, 1000));
const busy = await liveCost(5_000);
const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const snapBytes = Buffer.byteLength(JSON.stringify(snapshot()));
const checkBytes = Buffer.byteLength(JSON.stringify(checks));
times.sort((a, b) => a - b);
process.stdout.write(
  `dashboard page load, ${SERVICES} services x ${BACKENDS} backends, ${CHECKS} checks, chromium on loopback, ${runs} runs:\n` +
    `  median ${times[Math.floor(runs / 2)]!.toFixed(0)} ms, min ${times[0]!.toFixed(0)} ms, max ${times.at(-1)!.toFixed(0)} ms (navigation to every row rendered)\n` +
    `  milestones (median ms from navigation start): ${PHASES.map((p) => `${p} ${median(phases.get(p)!).toFixed(0)}`).join(', ')}\n` +
    `  snapshot event ${(snapBytes / 1024).toFixed(0)} KiB, checks event ${(checkBytes / 1024).toFixed(0)} KiB\n` +
    `  live updates, page open 5 s: idle cluster ${(idle.busy * 100).toFixed(1)}% of the page's main thread, ${idle.kibPerS.toFixed(1)} KiB/s streamed; ` +
    `busy cluster (all 500 backends' counters change) ${(busy.busy * 100).toFixed(1)}%, ${busy.kibPerS.toFixed(1)} KiB/s\n`,
);
await browser.close();
await server.close();
