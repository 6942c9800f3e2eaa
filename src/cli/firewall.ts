/**
 * `palisade firewall plan|apply|confirm|status|remove`: argument parsing and output
 * only; the work is behind the app's firewall facade.
 */
import { mkdir } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import {
  applyWithRollback,
  confirmSocketPath,
  COUNTERS,
  listenForConfirm,
  Nft,
  NftError,
  nodeFirewall,
  nodeName,
  removeRuleset,
  RollbackError,
  runtimeDir,
  sendConfirm,
  TABLE_FAMILY,
  TABLE_NAME,
} from '../app/firewall.ts';
import type { ConfirmOutcome } from '../app/firewall.ts';
import { loadClusterFile } from '../config/load.ts';
import type { LoadedConfig } from '../config/load.ts';
import { ConfigError } from '../core/errors.ts';
import { parseDuration } from '../core/units.ts';

export const FIREWALL_USAGE = `usage:
  palisade firewall plan -c FILE [--node NAME]      print the nftables ruleset this node would load
  palisade firewall apply -c FILE [--node NAME] [--confirm-timeout 30s]
                                                    load it atomically; roll back unless confirmed in time
  palisade firewall confirm -c FILE [--node NAME]   keep the ruleset a waiting apply loaded
  palisade firewall status -c FILE [--node NAME] [--json]
                                                    the counters of table inet palisade
  palisade firewall remove -c FILE [--node NAME]    delete table inet palisade (other tables stay)
See docs/firewall.md.`;

/** Exit code of an apply that was rolled back (not confirmed in time, or aborted). */
export const EXIT_ROLLED_BACK = 3;

function out(line: string): void {
  // the operator's terminal may be gone (a lock-out): never die on a write
  try {
    process.stdout.write(`${line}\n`);
  } catch {
    // ignore
  }
}

class UsageError extends Error {}

function failMessage(err: unknown): string {
  if (err instanceof NftError || err instanceof RollbackError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

async function waitForOperator(loaded: LoadedConfig, node: string, timeoutMs: number): Promise<{ confirm: (ms: number) => Promise<ConfirmOutcome>; close: () => Promise<void> }> {
  await mkdir(runtimeDir(loaded), { recursive: true, mode: 0o700 });
  const path = confirmSocketPath(loaded, node);
  const listener = await listenForConfirm(path);
  const cleanups: (() => void)[] = [];
  const confirm = (ms: number) =>
    new Promise<ConfirmOutcome>((resolve) => {
      const timer = setTimeout(() => resolve('timeout'), ms);
      cleanups.push(() => clearTimeout(timer));
      void listener.confirmed.then(() => resolve('confirmed'));
      // a lost session (SIGHUP), Ctrl-C or a stop: roll back now rather than at the timeout
      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
        const h = () => resolve('aborted');
        process.on(sig, h);
        cleanups.push(() => process.off(sig, h));
      }
      if (process.stdin.isTTY) {
        const rl = createInterface({ input: process.stdin, output: process.stdout });
        rl.on('error', () => resolve('aborted'));
        rl.on('close', () => resolve('aborted'));
        rl.on('line', (l) => {
          if (/^\s*yes\s*$/i.test(l)) resolve('confirmed');
          else rl.setPrompt('type yes to keep it: ');
          rl.prompt();
        });
        rl.setPrompt(`type yes within ${Math.round(timeoutMs / 1000)}s to keep it (or run: palisade firewall confirm): `);
        rl.prompt();
        cleanups.push(() => {
          rl.removeAllListeners('close');
          rl.close();
        });
      } else {
        out(`waiting ${Math.round(timeoutMs / 100) / 10}s for: palisade firewall confirm -c ${loaded.file} --node ${node}`);
      }
    });
  return {
    confirm,
    close: async () => {
      for (const c of cleanups) c();
      await listener.close();
    },
  };
}

async function run(argv: string[]): Promise<number> {
  const sub = argv[0];
  const { values } = parseArgs({
    args: argv.slice(1),
    options: {
      config: { type: 'string', short: 'c' },
      node: { type: 'string', short: 'n' },
      json: { type: 'boolean' },
      'confirm-timeout': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help || sub === undefined || sub === 'help') {
    out(FIREWALL_USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (!['plan', 'apply', 'confirm', 'status', 'remove'].includes(sub)) throw new UsageError(`unknown firewall command ${JSON.stringify(sub)}\n${FIREWALL_USAGE}`);
  if (values['confirm-timeout'] !== undefined && sub !== 'apply') throw new UsageError('--confirm-timeout goes with apply');
  const file = values.config ?? (() => {
    throw new UsageError(`firewall ${sub} needs -c FILE (the cluster file)`);
  })();
  const loaded = await loadClusterFile(file);
  const nft = new Nft();

  switch (sub) {
    case 'plan': {
      const fw = nodeFirewall(loaded, values.node);
      process.stdout.write(fw.text);
      return 0;
    }
    case 'apply': {
      const text = values['confirm-timeout'];
      const timeoutMs = text === undefined ? 30_000 : parseDuration(text);
      if (timeoutMs === undefined || timeoutMs < 1_000 || timeoutMs > 3_600_000) throw new UsageError(`--confirm-timeout: expected a duration from 1s to 1h such as 30s or 2m, got ${JSON.stringify(text)}`);
      const fw = nodeFirewall(loaded, values.node);
      for (const w of fw.plan.warnings) process.stderr.write(`palisade: warning: ${w}\n`);
      const operator = await waitForOperator(loaded, fw.node, timeoutMs);
      try {
        const r = await applyWithRollback({ nft, text: fw.text, timeoutMs, confirm: operator.confirm, say: out });
        return r.kept ? 0 : EXIT_ROLLED_BACK;
      } finally {
        await operator.close();
      }
    }
    case 'confirm': {
      const node = nodeName(loaded, values.node);
      await sendConfirm(confirmSocketPath(loaded, node));
      out(`confirmed: node ${node} keeps the ruleset that apply loaded`);
      return 0;
    }
    case 'status': {
      const counters = await nft.counters();
      if (counters === undefined) {
        if (values.json) out(JSON.stringify({ table: null, counters: {} }));
        else out(`no table ${TABLE_FAMILY} ${TABLE_NAME}: Palisade's firewall is not loaded`);
        return 1;
      }
      if (values.json) {
        out(JSON.stringify({ table: `${TABLE_FAMILY} ${TABLE_NAME}`, counters: Object.fromEntries(counters) }, null, 2));
        return 0;
      }
      const rows = [...counters].map(([name, c]) => [name, String(c.packets), String(c.bytes), COUNTERS[name] ?? '']);
      const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length), ['counter', 'packets', 'bytes'][i]!.length));
      out(`table ${TABLE_FAMILY} ${TABLE_NAME}: dropped packets by rule`);
      out(`${'counter'.padEnd(w[0]!)}  ${'packets'.padStart(w[1]!)}  ${'bytes'.padStart(w[2]!)}  what`);
      for (const r of rows) out(`${r[0]!.padEnd(w[0]!)}  ${r[1]!.padStart(w[1]!)}  ${r[2]!.padStart(w[2]!)}  ${r[3]}`);
      return 0;
    }
    case 'remove': {
      const had = (await nft.listTable()) !== undefined;
      await nft.load(removeRuleset());
      out(had ? `removed table ${TABLE_FAMILY} ${TABLE_NAME}` : `there was no table ${TABLE_FAMILY} ${TABLE_NAME}; nothing to remove`);
      return 0;
    }
  }
  return 2;
}

/** Runs `palisade firewall ...`; resolves with the exit code. Usage errors exit 2, failures 1, a rollback 3. */
export async function firewallMain(argv: string[]): Promise<number> {
  try {
    return await run(argv);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
      process.stderr.write(`palisade: ${failMessage(err)}\n`);
      return 2;
    }
    if (err instanceof ConfigError) throw err; // main prints every problem
    process.stderr.write(`palisade: ${failMessage(err)}\n`);
    return 1;
  }
}
