/**
 * The `palisade` command: argument parsing and output only; the work is in `app`
 * and `lab`.
 */
import { parseArgs } from 'node:util';
import { controlRequest, controlSocketPath, defaultRuntimeDir } from '../app/control.ts';
import { Daemon, type DaemonStatus, type ReloadResult } from '../app/daemon.ts';
import { hostAddresses, selectNode } from '../app/node.ts';
import { formatStatus } from '../app/status-text.ts';
import { loadClusterFile, summarize } from '../config/load.ts';
import { ConfigError, errorMessage, formatProblem } from '../core/errors.ts';

const USAGE = `palisade: a high-availability load-balancing cluster in one daemon

usage:
  palisade demo [--port N]              start a complete demo cluster on loopback (no root needed)
  palisade run -c FILE [--node NAME]    run this node's roles from the cluster file
  palisade agent -c FILE --node NAME    the same, for a node whose role is the monitor's agent (docs/agent.md)
  palisade validate -c FILE             check a cluster file; prints every problem with file:line:column
  palisade reload -c FILE [--node NAME] make the running daemon re-read its cluster file
  palisade status -c FILE [--node NAME] [--json]
                                        show services, backends and their health
  palisade backend drain|maint|enable SERVICE BACKEND -c FILE
                                        take a backend out gracefully (drain), for maintenance, or back in
  palisade backend weight SERVICE BACKEND N -c FILE
                                        change a backend's weight at run time (0-1000)
  palisade firewall plan|apply|confirm|status|remove -c FILE [--node NAME]
                                        this node's nftables firewall (apply rolls back unless confirmed)
  palisade realserver start|stop|status|run [--vip ADDRESS]... [-c FILE]
                                        the real-server side of mode dr: VIP on lo, arp_ignore/arp_announce (undone on stop)
  palisade passwd [--token]             print a password hash (or a new API token) for the dashboard's web: section
  palisade ack HOST[/SERVICE] -m COMMENT -c FILE [--sticky]
                                        acknowledge a monitoring problem
  palisade downtime HOST[/SERVICE] --minutes N -c FILE [-m COMMENT]
                                        schedule downtime for a host or service
  palisade help                         this text

The cluster file is documented in docs/cluster-file.md.`;

const EXIT_USAGE = 2;
const EXIT_INVALID = 1;

function fail(msg: string, code = EXIT_USAGE): never {
  process.stderr.write(`palisade: ${msg}\n`);
  process.exit(code);
}

function printConfigError(err: unknown): never {
  if (err instanceof ConfigError) {
    for (const p of err.problems) process.stderr.write(`${formatProblem(p)}\n`);
    process.stderr.write(`palisade: ${err.problems.length} problem(s) in the cluster file; nothing was started or changed\n`);
    process.exit(EXIT_INVALID);
  }
  fail(errorMessage(err), EXIT_INVALID);
}

async function controlPathFor(file: string, node: string | undefined): Promise<string> {
  const loaded = await loadClusterFile(file).catch(printConfigError);
  const sel = selectNode(loaded.config, node, hostAddresses());
  return controlSocketPath(loaded.config.runtime_dir ?? defaultRuntimeDir(), loaded.config.cluster.name, sel.name);
}

async function main(argv: string[]): Promise<void> {
  const cmd = argv[0];
  if (cmd === 'firewall') {
    process.exitCode = await (await import('./firewall.ts')).firewallMain(argv.slice(1));
    return;
  }
  if (cmd === 'realserver') {
    process.exitCode = await (await import('./realserver.ts')).realserverMain(argv.slice(1));
    return;
  }
  if (cmd === 'passwd' || cmd === 'ack' || cmd === 'downtime') {
    process.exitCode = await (await import('./web.ts')).webMain(cmd, argv.slice(1));
    return;
  }
  const { values, positionals } = parseArgs({
    args: argv.slice(1),
    options: {
      config: { type: 'string', short: 'c' },
      node: { type: 'string', short: 'n' },
      json: { type: 'boolean' },
      port: { type: 'string', short: 'p' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: cmd === 'backend',
    strict: true,
  });
  if (values.help || cmd === 'help' || cmd === '--help' || cmd === '-h' || cmd === undefined) {
    process.stdout.write(`${USAGE}\n`);
    if (cmd === undefined) process.exitCode = EXIT_USAGE;
    return;
  }
  const needFile = (): string => values.config ?? fail(`${cmd} needs -c FILE (the cluster file)`);
  switch (cmd) {
    case 'validate': {
      const file = needFile();
      const loaded = await loadClusterFile(file).catch(printConfigError);
      if (values.node !== undefined) {
        try {
          selectNode(loaded.config, values.node, []);
        } catch (err) {
          fail(errorMessage(err), EXIT_INVALID);
        }
      }
      process.stdout.write(`${summarize(loaded)}\n`);
      return;
    }
    case 'agent':
    case 'run': {
      const file = needFile();
      const loaded = await loadClusterFile(file).catch(printConfigError);
      let daemon: Daemon;
      try {
        daemon = await Daemon.start({ file, node: values.node, loaded });
      } catch (err) {
        fail(errorMessage(err), EXIT_INVALID);
      }
      daemon.installSignalHandlers(() => process.exit(0));
      return;
    }
    case 'reload': {
      const path = await controlPathFor(needFile(), values.node);
      const r = (await controlRequest(path, { cmd: 'reload' })) as ReloadResult;
      if (r.ok) {
        process.stdout.write(`${r.summary ?? 'reloaded'}\n`);
      } else {
        for (const e of r.errors) process.stderr.write(`${e}\n`);
        fail('reload refused; the daemon keeps running its previous config', EXIT_INVALID);
      }
      return;
    }
    case 'status': {
      const path = await controlPathFor(needFile(), values.node);
      const r = (await controlRequest(path, { cmd: 'status' })) as { ok: boolean; status: DaemonStatus; error?: string };
      if (!r.ok) fail(r.error ?? 'status failed', EXIT_INVALID);
      // The node that runs the monitor adds its check summary (in JSON: `checks: { totals, problems }`).
      const c = (await controlRequest(path, { cmd: 'checks' }, 2_000).catch(() => undefined)) as { checks?: import('../app/web-facade.ts').CheckView[] } | undefined;
      const checks = c?.checks !== undefined && c.checks.length > 0 ? c.checks : undefined;
      const web = checks === undefined ? undefined : await import('./web.ts');
      if (values.json) process.stdout.write(`${JSON.stringify(web === undefined ? r.status : { ...r.status, checks: web.checkSummary(checks!) }, null, 2)}\n`);
      else process.stdout.write(`${formatStatus(r.status)}\n${web === undefined ? '' : `\n${web.formatChecks(checks!)}\n`}`);
      return;
    }
    case 'backend': {
      const [action, service, backend, weightText] = positionals;
      if (!['drain', 'maint', 'enable', 'weight'].includes(action ?? '') || service === undefined || backend === undefined || (action === 'weight') !== (weightText !== undefined)) {
        fail('usage: palisade backend drain|maint|enable SERVICE BACKEND -c FILE, or palisade backend weight SERVICE BACKEND N -c FILE');
      }
      const path = await controlPathFor(needFile(), values.node);
      const r = (await controlRequest(path, { cmd: 'backend', action, service, backend, weight: weightText === undefined ? undefined : Number(weightText) })) as { ok: boolean; message?: string; error?: string };
      if (!r.ok) fail(r.error ?? 'refused', EXIT_INVALID);
      process.stdout.write(`${r.message}\n`);
      return;
    }
    case 'demo': {
      const { runDemo } = await import('../lab/demo.ts');
      const port = values.port === undefined ? 8080 : Number(values.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port: expected a port number, got ${values.port}`);
      await runDemo({ port });
      return;
    }
    default:
      fail(`unknown command ${JSON.stringify(cmd)}; see palisade help`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) printConfigError(err);
  const code = (err as { code?: string }).code;
  fail(code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' ? `${errorMessage(err)}; see palisade help` : errorMessage(err), code?.startsWith('ERR_PARSE_ARGS') ? EXIT_USAGE : EXIT_INVALID);
});
