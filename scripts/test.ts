/**
 * Runs every test suite: type check, lint, import rules, unit, integration, system,
 * browser.
 *
 *   node scripts/test.ts              every suite
 *   node scripts/test.ts unit ...     only the named ones
 *
 * A suite that cannot run here (system tests need root and iproute2, browser tests
 * need Debian's chromium) fails with the reason; it is never skipped silently.
 * Set PALISADE_SKIP_SUITES=system,browser to leave suites out on purpose (the
 * summary says so). The last line is "N passed, N failed".
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const bin = (name: string) => join(root, 'node_modules', '.bin', name);

interface Suite {
  name: string;
  /** Test files of the suite. */
  files?: () => string[];
  /** A command that is not a test runner (type check, lint). */
  command?: string[];
  /** Why the suite cannot run here, or undefined when it can. */
  blocker?: () => string | undefined;
  concurrency?: number;
}

function findTests(dir: string, suffix = '.test.ts'): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (e === 'node_modules') continue;
      if (statSync(p).isDirectory()) walk(p);
      else if (e.endsWith(suffix)) out.push(relative(root, p));
    }
  };
  walk(join(root, dir));
  return out.toSorted();
}

function which(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(join(d, cmd)));
}

const suites: Suite[] = [
  { name: 'typecheck', command: [bin('tsc'), '--noEmit', '-p', '.'] },
  { name: 'lint', command: [bin('oxlint'), '--deny-warnings', '-f', 'unix', 'src', 'test', 'bench', 'scripts'] },
  /** DESIGN.md's "what may import what" (scripts/check-imports.ts). */
  { name: 'imports', command: [process.execPath, join(root, 'scripts', 'check-imports.ts')] },
  { name: 'unit', files: () => findTests('src') },
  { name: 'integration', files: () => findTests('test/integration'), concurrency: 1 },
  {
    name: 'system',
    files: () => findTests('test/system'),
    concurrency: 1,
    blocker: () => {
      if (process.getuid?.() !== 0) return 'system tests need root (network namespaces, raw sockets); run them as root';
      if (!which('ip')) return 'system tests need iproute2 (`ip`); install it with apt-get install iproute2';
      return undefined;
    },
  },
  {
    name: 'browser',
    files: () => findTests('test/browser'),
    concurrency: 1,
    blocker: () => (existsSync('/usr/bin/chromium') ? undefined : 'browser tests need Debian chromium at /usr/bin/chromium; install it with apt-get install chromium'),
  },
];

function run(cmd: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd[0]!, cmd.slice(1), { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      process.stdout.write(d);
    });
    child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

const wanted = process.argv.slice(2);
const skipped = new Set((process.env.PALISADE_SKIP_SUITES ?? '').split(',').filter((s) => s !== ''));
for (const w of wanted) if (!suites.some((s) => s.name === w)) {
  process.stderr.write(`unknown suite ${w}; suites: ${suites.map((s) => s.name).join(', ')}\n`);
  process.exit(2);
}

let passed = 0;
let failed = 0;
const report: string[] = [];
for (const s of suites) {
  if (wanted.length > 0 && !wanted.includes(s.name)) continue;
  if (skipped.has(s.name)) {
    report.push(`${s.name}: left out by PALISADE_SKIP_SUITES`);
    continue;
  }
  process.stdout.write(`\n=== ${s.name} ===\n`);
  if (s.command) {
    const r = await run(s.command);
    if (r.code === 0) passed++;
    else failed++;
    report.push(`${s.name}: ${r.code === 0 ? 'ok' : `FAILED (exit ${r.code})`}`);
    continue;
  }
  const files = s.files!();
  if (files.length === 0) {
    report.push(`${s.name}: no test files yet`);
    process.stdout.write(`${s.name}: no test files yet\n`);
    continue;
  }
  const blocker = s.blocker?.();
  if (blocker !== undefined) {
    failed++;
    report.push(`${s.name}: CANNOT RUN: ${blocker}`);
    process.stderr.write(`${s.name}: cannot run: ${blocker}\n`);
    continue;
  }
  const args = [process.execPath, '--test', '--test-reporter=spec', `--test-concurrency=${s.concurrency ?? 2}`, '--test-timeout=300000', ...files];
  const r = await run(args);
  const p = Number(/ℹ pass (\d+)/.exec(r.out)?.[1] ?? 0);
  const f = Number(/ℹ fail (\d+)/.exec(r.out)?.[1] ?? (r.code === 0 ? 0 : 1));
  passed += p;
  failed += f + (r.code !== 0 && f === 0 ? 1 : 0);
  report.push(`${s.name}: ${p} passed, ${f} failed${r.code !== 0 && f === 0 ? ` (runner exit ${r.code})` : ''}`);
}
process.stdout.write(`\n=== summary ===\n${report.join('\n')}\n${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 ? 0 : 1);
