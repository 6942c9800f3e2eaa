/**
 * Checks DESIGN.md's section "Modules and what may import what" (../shared/DESIGN.md
 * from the repository's root): every relative import between the top-level modules
 * under src/ must be an edge the table below allows.
 *
 *   node scripts/check-imports.ts
 *
 * Prints one line per forbidden edge ("src/web/x.ts:12: web may not import store
 * (../store/history.ts)") and exits 1, or one OK line and exits 0. Run by
 * `node scripts/test.ts imports`.
 *
 * What counts as an import: `import ... from`, `import '...'`, `export ... from`,
 * `import x = require(...)`, dynamic `import(...)` and type-position `import('...')`,
 * all with a relative specifier. `import type` counts the same as a value import:
 * DESIGN does not tell the two apart, and a sibling's types are its insides too.
 * Paths handed to child processes and workers (new URL('../cli/main.ts', ...)) are
 * not imports and are not checked.
 *
 * Imports inside one module are always fine. A top-level directory of src/ that the
 * table does not name is reported, so that a new module gets a rule here first.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/** What each module may import besides itself. Keep in step with DESIGN.md. */
const ALLOWED: Record<string, readonly string[]> = {
  // "core imports nothing of ours; config imports core."
  core: [],
  config: ['core'],
  // "balancer, health, ha, monitor, store, firewall import only core and config
  // types — never each other."
  balancer: ['core', 'config'],
  health: ['core', 'config'],
  ha: ['core', 'config'],
  monitor: ['core', 'config'],
  store: ['core', 'config'],
  firewall: ['core', 'config'],
  // "proxy uses balancer and health through their interfaces."
  proxy: ['core', 'config', 'balancer', 'health'],
  // The per-node agent (NRPE's job) only authenticates, routes and answers over
  // HTTPS: what runs is injected by app (src/app/agent.ts), so it needs no monitor.
  agent: ['core', 'config'],
  // "app alone wires modules together."
  app: ['core', 'config', 'balancer', 'health', 'proxy', 'ha', 'monitor', 'agent', 'store', 'firewall', 'web', 'lab', 'cli'],
  // "web, cli, lab talk to app's facade, not to modules' insides" — nor to each other's.
  web: ['core', 'config', 'app'],
  cli: ['core', 'config', 'app'],
  lab: ['core', 'config', 'app'],
};

/**
 * Single files a module may import although the table does not allow their module:
 * a front end's entry point, never its insides. Each says why.
 */
const ENTRY_POINTS: ReadonlyArray<{ from: string; file: string; why: string }> = [
  { from: 'cli', file: 'src/lab/demo.ts', why: '`palisade demo` starts the lab\'s demo (runDemo): the CLI is the lab\'s command line, and lab itself talks only to app' },
];

/**
 * Test files (*.test.ts) of module X may import what X may import, plus core and
 * config (core's own tests may use config's helpers such as config/testing.ts).
 * Nothing else: a test that needs another module's contract should get it from
 * core, where shared contracts live.
 */
const TEST_EXTRA: readonly string[] = ['core', 'config'];

const root = join(import.meta.dirname, '..');
const src = join(root, 'src');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (e === 'node_modules') continue;
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(m|c)?tsx?$/.test(e) && !e.endsWith('.d.ts')) out.push(p);
  }
  return out.toSorted();
}

/** The top-level module of an absolute path under src/, '' for a file right in src/, undefined outside src/. */
function moduleOf(path: string): string | undefined {
  const rel = relative(src, path);
  if (rel.startsWith('..') || rel === '') return undefined;
  const parts = rel.split(sep);
  return parts.length > 1 ? parts[0] : '';
}

interface Import {
  specifier: string;
  line: number;
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, file.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const out: Import[] = [];
  /** `at` is the statement or expression whose first line is reported. */
  const add = (specifier: ts.Node | undefined, at: ts.Node) => {
    if (specifier === undefined || !ts.isStringLiteralLike(specifier)) return;
    out.push({ specifier: specifier.text, line: sf.getLineAndCharacterOfPosition(at.getStart(sf)).line + 1 });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node.moduleSpecifier, node);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node.moduleReference.expression, node);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node.arguments[0], node);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal, node);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

const violations: string[] = [];
let edges = 0;
const files = sourceFiles(src);
for (const file of files) {
  const from = moduleOf(file)!;
  const name = relative(root, file);
  const isTest = /\.test\.(m|c)?tsx?$/.test(file);
  for (const imp of importsOf(file)) {
    if (!imp.specifier.startsWith('./') && !imp.specifier.startsWith('../')) continue;
    const target = resolve(dirname(file), imp.specifier);
    const to = moduleOf(target);
    if (to === from) continue;
    edges++;
    const where = `${name}:${imp.line}`;
    if (to === undefined) {
      violations.push(`${where}: ${from} may not import outside src/ (${imp.specifier})`);
      continue;
    }
    const rules = ALLOWED[from];
    if (rules === undefined) {
      violations.push(`${where}: ${from === '' ? 'a file right in src/' : `module ${from}`} has no rule in scripts/check-imports.ts (${imp.specifier})`);
      continue;
    }
    if (ALLOWED[to] === undefined) {
      violations.push(`${where}: ${from} may not import ${to === '' ? 'a file right in src/' : `${to}, which has no rule in scripts/check-imports.ts`} (${imp.specifier})`);
      continue;
    }
    if (rules.includes(to) || (isTest && TEST_EXTRA.includes(to))) continue;
    if (ENTRY_POINTS.some((e) => e.from === from && join(root, e.file) === target)) continue;
    violations.push(`${where}: ${from} may not import ${to} (${imp.specifier})`);
  }
}

if (violations.length > 0) {
  process.stdout.write(`${violations.join('\n')}\n`);
  process.stderr.write(`${violations.length} import(s) break DESIGN.md's module rules (table in scripts/check-imports.ts)\n`);
  process.exit(1);
}
process.stdout.write(`imports: ok, ${files.length} files, ${edges} imports between modules, all allowed by DESIGN.md\n`);
