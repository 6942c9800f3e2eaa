/**
 * `palisade passwd`, `palisade ack`, `palisade downtime`: the dashboard's password
 * hashes and API tokens, and the monitoring actions over the control socket of the
 * node that serves the dashboard. Argument parsing and output only.
 */
import { parseArgs } from 'node:util';
import { controlRequest, controlSocketPath, defaultRuntimeDir } from '../app/control.ts';
import { webNodeOf } from '../app/web-facade.ts';
import { loadClusterFile } from '../config/load.ts';
import { errorMessage, formatProblem, ConfigError } from '../core/errors.ts';
import type { CheckView } from '../web/facade.ts';
import { hashPassword, newToken } from '../web/auth.ts';

const USAGE = `usage:
  palisade passwd [--token]              read a password on standard input, print its hash for web.users
                                         (--token: print a new API token and the sha256 for web.tokens)
  palisade ack HOST[/SERVICE] -c FILE -m COMMENT [--sticky]
                                         acknowledge a problem (silences its notifications)
  palisade downtime HOST[/SERVICE] -c FILE --minutes N [-m COMMENT]
                                         schedule downtime from now`;

async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('password: ');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** The control socket of the node that serves the dashboard and the monitor. */
export async function monitorControlPath(file: string): Promise<string> {
  const { config } = await loadClusterFile(file);
  const node = webNodeOf(config);
  if (node === undefined) throw new Error(`${file} has no web: section: no node runs the monitor and dashboard`);
  return controlSocketPath(config.runtime_dir ?? defaultRuntimeDir(), config.cluster.name, node);
}

/** One line per state and the problems, for `palisade status`. */
export function formatChecks(checks: readonly CheckView[]): string {
  if (checks.length === 0) return '';
  const totals = new Map<string, number>();
  for (const c of checks) totals.set(c.state, (totals.get(c.state) ?? 0) + 1);
  const lines = [`checks: ${[...totals].map(([s, n]) => `${n} ${s}`).join(', ')}`];
  for (const c of checks) {
    if (['OK', 'UP', 'PENDING'].includes(c.state)) continue;
    const flags = [c.ack ? `ack by ${c.ack.author}` : '', c.inDowntime ? 'downtime' : '', c.flapping ? 'flapping' : ''].filter((x) => x !== '').join(', ');
    lines.push(`  ${c.state.padEnd(11)} ${c.stateType.padEnd(5)} ${c.object.padEnd(30)} ${c.output}${flags ? `  [${flags}]` : ''}`);
  }
  return lines.join('\n');
}

export async function webMain(cmd: string, argv: string[]): Promise<number> {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        message: { type: 'string', short: 'm' },
        minutes: { type: 'string' },
        sticky: { type: 'boolean' },
        token: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`palisade: ${errorMessage(err)}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (cmd === 'passwd') {
    if (values.token) {
      const t = newToken();
      process.stdout.write(`token:  ${t.token}\nsha256: ${t.sha256}\n`);
      return 0;
    }
    const pw = await readPassword();
    if (pw.length < 8) {
      process.stderr.write('palisade: a password needs at least 8 characters\n');
      return 1;
    }
    process.stdout.write(`${await hashPassword(pw)}\n`);
    return 0;
  }
  const object = positionals[0];
  if (values.config === undefined || object === undefined) {
    process.stderr.write(`palisade: ${cmd} needs HOST[/SERVICE] and -c FILE\n${USAGE}\n`);
    return 2;
  }
  const req: Record<string, unknown> & { cmd: string } = { cmd, object, actor: process.env.USER ?? '', comment: values.message ?? '' };
  if (cmd === 'ack') {
    if ((values.message ?? '').trim() === '') {
      process.stderr.write('palisade: ack needs a comment (-m COMMENT)\n');
      return 2;
    }
    req.sticky = values.sticky === true;
  } else {
    const minutes = Number(values.minutes);
    if (!(minutes > 0)) {
      process.stderr.write('palisade: downtime needs --minutes N (N > 0)\n');
      return 2;
    }
    req.minutes = minutes;
  }
  try {
    const r = (await controlRequest(await monitorControlPath(values.config), req, 10_000)) as { ok: boolean; message?: string; error?: string };
    if (!r.ok) {
      process.stderr.write(`palisade: ${r.error ?? 'refused'}\n`);
      return 1;
    }
    process.stdout.write(`${r.message}\n`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) for (const p of err.problems) process.stderr.write(`${formatProblem(p)}\n`);
    process.stderr.write(`palisade: ${errorMessage(err)}\n`);
    return 1;
  }
}
