/**
 * Loading a cluster file: parse YAML → substitute ${VAR} → validate → freeze.
 * `palisade validate`, `palisade run` and reload all go through `loadClusterFile`.
 */
import { readFile } from 'node:fs/promises';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from '../core/errors.ts';
import { clusterSchema, type ClusterConfig } from './schema.ts';

export interface LoadedConfig {
  /** Absolute or given path of the file, as named in messages. */
  readonly file: string;
  readonly config: ClusterConfig;
}

export interface LoadOptions {
  /** Variables for `${VAR}` substitution; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Reads and validates a cluster file. Throws ConfigError listing every problem. */
export async function loadClusterFile(file: string, opts: LoadOptions = {}): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    throw new ConfigError([{ file, line: 0, column: 0, path: '', message: `cannot read the cluster file (${code || String(err)})` }]);
  }
  return parseClusterText(text, file, opts);
}

/** Validates cluster-file text; `file` is only used in messages. */
export function parseClusterText(text: string, file: string, opts: LoadOptions = {}): LoadedConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, merge: true });
  const problems: ConfigProblem[] = [];
  const at = (offset: number | undefined) => {
    if (offset === undefined) return { line: 1, column: 1 };
    const p = lc.linePos(offset);
    return { line: p.line, column: p.col };
  };
  for (const e of doc.errors) {
    problems.push({ file, ...at(e.pos[0]), path: '', message: e.message.split('\n')[0]! });
  }
  if (problems.length > 0) throw new ConfigError(problems);

  substituteEnv(doc, opts.env ?? process.env, (node, message) => {
    problems.push({ file, ...at(node.range?.[0]), path: '', message });
  });
  if (problems.length > 0) throw new ConfigError(problems);

  const raw: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const result = clusterSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(...issueToProblems(issue, doc, file, at));
    problems.sort((a, b) => a.line - b.line || a.column - b.column);
    throw new ConfigError(problems);
  }
  return { file, config: deepFreeze(result.data) };
}

/** `${VAR}`, `${VAR:-default}`; `$${` writes a literal `${`. Only in scalar values, never in keys. */
function substituteEnv(doc: Document, env: Readonly<Record<string, string | undefined>>, report: (node: YamlNode, msg: string) => void): void {
  const visit = (node: unknown): void => {
    if (isMap(node)) {
      for (const pair of node.items) visit(pair.value);
    } else if (isSeq(node)) {
      for (const item of node.items) visit(item);
    } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('${')) {
      const value = node.value;
      const out = value.replace(/\$?\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (whole, name: string, def: string | undefined) => {
        if (whole.startsWith('$$')) return whole.slice(1);
        const v = env[name];
        if (v !== undefined && v !== '') return v;
        if (def !== undefined) return def;
        report(node, `environment variable ${name} is not set (write \${${name}:-default} for a default)`);
        return '';
      });
      node.value = out;
    }
  };
  visit(doc.contents);
}

type Issue = z.core.$ZodIssue;

function formatPath(path: readonly PropertyKey[]): string {
  let s = '';
  for (const k of path) {
    if (typeof k === 'number') s += `[${k}]`;
    else s += s === '' ? String(k) : `.${String(k)}`;
  }
  return s;
}

/** The deepest YAML node along `path`, and whether it is the node itself. */
function locate(doc: Document, path: readonly PropertyKey[]): { node: YamlNode | undefined; keyNode?: YamlNode; exact: boolean } {
  let node: unknown = doc.contents;
  let keyNode: YamlNode | undefined;
  for (let i = 0; i < path.length; i++) {
    const k = path[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && (isScalar(p.key) ? p.key.value : p.key) === k);
      if (!pair) return { node: node as YamlNode, exact: false };
      keyNode = pair.key as YamlNode;
      if (pair.value === null || pair.value === undefined) return { node: keyNode, exact: i === path.length - 1 };
      node = pair.value;
    } else if (isSeq(node) && typeof k === 'number') {
      const item = node.items[k];
      if (item === undefined) return { node: node as YamlNode, exact: false };
      node = item;
      keyNode = undefined;
    } else {
      return { node: node as YamlNode | undefined, exact: false };
    }
  }
  return { node: node as YamlNode, keyNode, exact: true };
}

function describeExpected(issue: Issue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.message.startsWith('Invalid input') ? `expected ${issue.expected}` : issue.message;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return issue.message.startsWith('Too small') ? `expected ${issue.origin === 'array' ? 'at least ' + String(issue.minimum) + ' item(s)' : '>= ' + String(issue.minimum)}` : issue.message;
    case 'too_big':
      return issue.message.startsWith('Too big') ? `expected ${issue.origin === 'array' ? 'at most ' + String(issue.maximum) + ' item(s)' : '<= ' + String(issue.maximum)}` : issue.message;
    case 'invalid_union': {
      // Prefer the message of the branch that went furthest, if the union had no message of its own.
      if (!issue.message.startsWith('Invalid input')) return issue.message;
      const inner = issue.errors.flat()[0];
      return inner ? describeExpected(inner) : 'unexpected value';
    }
    default:
      return issue.message;
  }
}

function issueToProblems(issue: Issue, doc: Document, file: string, at: (o: number | undefined) => { line: number; column: number }): ConfigProblem[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const path = [...issue.path, key];
      const loc = locate(doc, path);
      const node = loc.keyNode ?? loc.node;
      return { file, ...at(node?.range?.[0]), path: formatPath(path), message: `unknown key ${JSON.stringify(key)}` };
    });
  }
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // A union whose branches failed deeper (e.g. a backend object with a bad port): report the deepest issue.
    const deepest = issue.errors.flat().filter((e) => e.path.length > 0);
    if (deepest.length > 0 && issue.message.startsWith('Invalid input')) {
      return deepest.flatMap((e) => issueToProblems({ ...e, path: [...issue.path, ...e.path] } as Issue, doc, file, at));
    }
  }
  const loc = locate(doc, issue.path);
  let message = describeExpected(issue);
  if ((issue.code === 'invalid_type' || issue.code === 'invalid_union') && !loc.exact && issue.path.length > 0 && locate(doc, issue.path.slice(0, -1)).exact) {
    message = `missing required key ${JSON.stringify(String(issue.path[issue.path.length - 1]))}`;
  }
  const node = loc.exact ? loc.node : (loc.keyNode ?? loc.node);
  return [{ file, ...at(node?.range?.[0]), path: formatPath(issue.path), message }];
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}

/** A one-line summary of a valid file, as `palisade validate` prints it. */
export function summarize(loaded: LoadedConfig): string {
  const c = loaded.config;
  const services = Object.keys(c.services).length;
  const backends = Object.values(c.services).reduce((n, s) => n + s.backends.length, 0);
  const nodes = Object.keys(c.nodes).length;
  return `${loaded.file}: ok: cluster ${c.cluster.name}, ${nodes} node(s), ${services} service(s), ${backends} backend(s)`;
}
