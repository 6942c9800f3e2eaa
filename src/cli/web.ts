/**
 * `palisade passwd`, `palisade ack`, `palisade downtime`: the dashboard's password
 * hashes and API tokens, and the monitoring actions over the control socket of the
 * node that serves the dashboard (audited as `cli:USER`). Argument parsing and
 * output only.
 */
import { parseArgs } from 'node:util';
import { controlRequest, controlSocketPath, defaultRuntimeDir } from '../app/control.ts';
import { hashPassword, newToken } from '../app/web-auth.ts';
import { webNodeOf, type CheckView, type DowntimeView } from '../app/web-facade.ts';
import { loadClusterFile } from '../config/load.ts';
import { errorMessage, formatProblem, ConfigError } from '../core/errors.ts';

const USAGE = `usage:
  palisade passwd [--token]              read a password on standard input, print its hash for web.users
                                         (--token: print a new API token and the sha256 for web.tokens)
  palisade ack HOST[/SERVICE] -c FILE -m COMMENT [--sticky]
                                         acknowledge a problem (silences its notifications)
  palisade ack --remove HOST[/SERVICE] -c FILE
                                         remove an acknowledgement
  palisade downtime HOST[/SERVICE] -c FILE --minutes N [-m COMMENT]
                                         schedule fixed downtime from now
  palisade downtime HOST[/SERVICE] -c FILE --minutes N --flexible-within M [-m COMMENT]
                                         flexible downtime: N minutes from the first problem
                                         within the next M minutes
  palisade downtime --list -c FILE       list pending and running downtime
  palisade downtime --cancel ID -c FILE  cancel a downtime (pending or running)`;

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

/** `palisade status --json`: totals by state and the problems (as in the table), with their flags. */
export function checkSummary(checks: readonly CheckView[]): { totals: Record<string, number>; problems: CheckView[] } {
  const totals: Record<string, number> = {};
  for (const c of checks) totals[c.state] = (totals[c.state] ?? 0) + 1;
  return { totals, problems: checks.filter((c) => !['OK', 'UP', 'PENDING'].includes(c.state)) };
}

const isoMinute = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 16);

export function formatDowntimes(list: readonly DowntimeView[]): string {
  if (list.length === 0) return 'no downtime scheduled';
  return list
    .map((d) => {
      const kind = d.fixed ? `fixed    ${isoMinute(d.start)} to ${isoMinute(d.end)}` : `flexible ${Math.round((d.duration ?? 0) / 60_000)} min within ${isoMinute(d.start)} to ${isoMinute(d.end)}`;
      return `#${String(d.id).padEnd(4)} ${d.object.padEnd(30)} ${(d.startedAt === undefined ? 'pending' : 'running').padEnd(8)} ${kind}  by ${d.author}${d.comment ? `: ${d.comment}` : ''}`;
    })
    .join('\n');
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
        remove: { type: 'boolean' },
        'flexible-within': { type: 'string' },
        list: { type: 'boolean' },
        cancel: { type: 'string' },
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
  const actor = process.env.USER ?? '';
  const object = positionals[0];
  let req: Record<string, unknown> & { cmd: string };
  if (values.config === undefined) {
    process.stderr.write(`palisade: ${cmd} needs -c FILE\n${USAGE}\n`);
    return 2;
  }
  if (cmd === 'downtime' && (values.list === true || values.cancel !== undefined)) {
    if (values.list === true && values.cancel !== undefined) {
      process.stderr.write('palisade: downtime: --list or --cancel ID, not both\n');
      return 2;
    }
    const id = Number(values.cancel);
    if (values.cancel !== undefined && !(Number.isSafeInteger(id) && id > 0)) {
      process.stderr.write(`palisade: downtime --cancel: expected a downtime id (a positive integer, see --list), got ${JSON.stringify(values.cancel)}\n`);
      return 2;
    }
    req = values.list === true ? { cmd: 'downtimes' } : { cmd: 'cancel-downtime', id, actor };
  } else if (object === undefined) {
    process.stderr.write(`palisade: ${cmd} needs HOST[/SERVICE] and -c FILE\n${USAGE}\n`);
    return 2;
  } else if (cmd === 'ack' && values.remove === true) {
    req = { cmd: 'unack', object, actor };
  } else if (cmd === 'ack') {
    if ((values.message ?? '').trim() === '') {
      process.stderr.write('palisade: ack needs a comment (-m COMMENT)\n');
      return 2;
    }
    req = { cmd, object, actor, comment: values.message ?? '', sticky: values.sticky === true };
  } else {
    const minutes = Number(values.minutes);
    if (!(minutes > 0)) {
      process.stderr.write('palisade: downtime needs --minutes N (N > 0)\n');
      return 2;
    }
    req = { cmd, object, actor, comment: values.message ?? '', minutes };
    if (values['flexible-within'] !== undefined) {
      const within = Number(values['flexible-within']);
      if (!(within > 0)) {
        process.stderr.write(`palisade: downtime --flexible-within: expected minutes > 0, got ${JSON.stringify(values['flexible-within'])}\n`);
        return 2;
      }
      req.within = within;
    }
  }
  try {
    const r = (await controlRequest(await monitorControlPath(values.config), req, 10_000)) as { ok: boolean; message?: string; error?: string; downtimes?: DowntimeView[] };
    if (!r.ok) {
      process.stderr.write(`palisade: ${r.error ?? 'refused'}\n`);
      return 1;
    }
    process.stdout.write(`${r.downtimes !== undefined ? formatDowntimes(r.downtimes) : r.message}\n`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) for (const p of err.problems) process.stderr.write(`${formatProblem(p)}\n`);
    process.stderr.write(`palisade: ${errorMessage(err)}\n`);
    return 1;
  }
}
