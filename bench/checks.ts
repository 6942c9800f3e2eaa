/**
 * How many monitoring checks per second this process sustains, and the CPU they cost:
 *
 *   node_modules/.bin/node bench/checks.ts [--duration 10] [--concurrency 50] [--rate 10000]
 *
 * 1. built-in `tcp` checks, as fast as they go (`--concurrency` in flight), against a
 *    loopback listener that runs in a child process (so its CPU is not counted);
 * 2. built-in `tcp` checks at a fixed rate (`--rate` per minute, default the issue's
 *    target of 10,000/min), spread evenly: the CPU share of one core they use;
 * 3. plugin executions through the runner (check_tcp against the same listener, and
 *    check_dummy), 4 in flight: executions per second, with this process's CPU and
 *    the plugins' own CPU (children, from /proc/self/stat).
 *
 * CPU is process.cpuUsage() (user + system) over the wall time of each phase.
 * Everything stays on 127.0.0.1; every phase is bounded in time.
 */
import { startClosingListener } from './lib/listener.ts';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { checkSchema } from '../src/config/check-schema.ts';
import { createCheck } from '../src/monitor/run.ts';
import type { MonitorCheck } from '../src/monitor/run.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '50' },
    rate: { type: 'string', default: '10000' },
    'plugin-duration': { type: 'string', default: '5' },
  },
});
const durationMs = Number(values.duration) * 1000;
const concurrency = Number(values.concurrency);
const perMinute = Number(values.rate);
const pluginMs = Number(values['plugin-duration']) * 1000;

/** Children's CPU (reaped plugin processes), ms, from /proc/self/stat cutime + cstime. */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 16 and 17 (1-based, counting pid as 1): after the comm, index 13 and 14.
  return ((Number(f[13]) + Number(f[14])) * 1000) / 100; // USER_HZ = 100 on Linux
}

interface Measure {
  runs: number;
  states: Record<string, number>;
  wallMs: number;
  cpuMs: number;
  childCpuMs: number;
}

async function measure(body: (count: (state: string) => void) => Promise<void>): Promise<Measure> {
  const states: Record<string, number> = {};
  let runs = 0;
  const c0 = process.cpuUsage();
  const k0 = childrenCpuMs();
  const t0 = performance.now();
  await body((s) => {
    runs++;
    states[s] = (states[s] ?? 0) + 1;
  });
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { runs, states, wallMs, cpuMs: (c.user + c.system) / 1000, childCpuMs: childrenCpuMs() - k0 };
}

/** `n` loops each running the check back to back until the deadline. */
function closedLoop(check: MonitorCheck, n: number, ms: number) {
  return (count: (s: string) => void) => {
    const end = performance.now() + ms;
    const loop = async () => {
      while (performance.now() < end) count((await check.run()).state);
    };
    return Promise.all(Array.from({ length: n }, loop)).then(() => undefined);
  };
}

/** Checks started at an even rate (per minute) for `ms`, each on its own. */
function openLoop(check: MonitorCheck, rpm: number, ms: number) {
  return (count: (s: string) => void) =>
    new Promise<void>((resolve) => {
      const perMs = rpm / 60_000;
      const t0 = performance.now();
      let started = 0;
      let pending = 0;
      let stopped = false;
      const tick = setInterval(() => {
        const now = performance.now() - t0;
        if (now >= ms) {
          stopped = true;
          clearInterval(tick);
          if (pending === 0) resolve();
          return;
        }
        const due = Math.floor(now * perMs);
        while (started < due) {
          started++;
          pending++;
          void check.run().then((r) => {
            count(r.state);
            pending--;
            if (stopped && pending === 0) resolve();
          });
        }
      }, 10);
    });
}

function line(name: string, m: Measure): string {
  const perSec = (m.runs / m.wallMs) * 1000;
  const cpuShare = m.cpuMs / m.wallMs;
  const usPer = (m.cpuMs * 1000) / Math.max(1, m.runs);
  const child = m.childCpuMs > 0 ? `, plugins' own CPU ${(m.childCpuMs / m.wallMs * 100).toFixed(1)} % of a core (${((m.childCpuMs * 1000) / m.runs).toFixed(0)} µs/run)` : '';
  return `${name}: ${m.runs} runs in ${(m.wallMs / 1000).toFixed(1)} s = ${perSec.toFixed(0)}/s (${(perSec * 60).toFixed(0)}/min); CPU ${(cpuShare * 100).toFixed(1)} % of one core, ${usPer.toFixed(0)} µs/run${child}; states ${JSON.stringify(m.states)}`;
}

const listener = await startClosingListener();
try {
  const tcp = createCheck(checkSchema.parse({ builtin: 'tcp', port: listener.port, timeout: '2s' }));
  // Warm-up (JIT, first connects).
  await measure(closedLoop(tcp, 10, 1_000));

  const max = await measure(closedLoop(tcp, concurrency, durationMs));
  console.log(line(`builtin tcp, max rate (${concurrency} in flight)`, max));

  const fixed = await measure(openLoop(tcp, perMinute, durationMs));
  console.log(line(`builtin tcp, fixed ${perMinute}/min`, fixed));
  const share = fixed.cpuMs / fixed.wallMs;
  console.log(`  target ≥ 10,000 checks/min under 25 % of one core: ${share < 0.25 && (fixed.runs / fixed.wallMs) * 60_000 >= 9_900 ? 'met' : 'NOT met'} (${(share * 100).toFixed(1)} %)`);

  const checkTcp = createCheck(checkSchema.parse({ plugin: ['/usr/lib/nagios/plugins/check_tcp', '-H', '127.0.0.1', '-p', String(listener.port)], timeout: '5s' }));
  console.log(line('plugin check_tcp (4 in flight)', await measure(closedLoop(checkTcp, 4, pluginMs))));
  const dummy = createCheck(checkSchema.parse({ plugin: ['/usr/lib/nagios/plugins/check_dummy', '0', 'fine'], timeout: '5s' }));
  console.log(line('plugin check_dummy (4 in flight)', await measure(closedLoop(dummy, 4, pluginMs))));
} finally {
  listener.stop();
}
