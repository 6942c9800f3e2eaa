/**
 * `palisade realserver start|stop|status|run`: the real-server side of mode dr
 * (the seed's `lvs_real`). The work is in app/realserver.ts.
 */
import { parseArgs } from 'node:util';
import { defaultRuntimeDir } from '../app/control.ts';
import { hostAddresses } from '../app/node.ts';
import { defaultStateFile, drVipsFor, realserverStart, realserverStatus, realserverStop } from '../app/realserver.ts';
import { loadClusterFile } from '../config/load.ts';
import { ConfigError, errorMessage, formatProblem } from '../core/errors.ts';

const USAGE = `usage: palisade realserver start|stop|status|run [--vip ADDRESS]... [--interface IF]... [-c FILE [--node NAME]] [--state FILE]
  start   VIPs on lo as /32, arp_ignore=1 and arp_announce=2 on all, lo and the interfaces
          (default: the interface towards each VIP); previous values kept in the state file
  stop    put the previous sysctl values back and remove the VIPs start added
  status  what is set up (--json for JSON)
  run     start, then stop on SIGTERM / SIGINT (for a service manager)
  With -c FILE, the VIPs are those of the mode dr services that have this host as a backend.`;

function say(s: string): void {
  process.stdout.write(`${s}\n`);
}

export async function realserverMain(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      vip: { type: 'string', multiple: true },
      interface: { type: 'string', multiple: true },
      config: { type: 'string', short: 'c' },
      node: { type: 'string', short: 'n' },
      state: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  const action = positionals[0];
  if (values.help === true || !['start', 'stop', 'status', 'run'].includes(action ?? '') || positionals.length > 1) {
    process.stderr.write(`${USAGE}\n`);
    return values.help === true ? 0 : 2;
  }
  let runtimeDir = defaultRuntimeDir();
  const vips = [...(values.vip ?? [])];
  if (values.config !== undefined) {
    try {
      const loaded = await loadClusterFile(values.config);
      runtimeDir = loaded.config.runtime_dir ?? runtimeDir;
      const node = values.node === undefined ? undefined : loaded.config.nodes[values.node];
      if (values.node !== undefined && node === undefined) throw new Error(`no node ${values.node} in ${values.config}`);
      for (const v of drVipsFor(loaded.config, node !== undefined ? [node.address] : hostAddresses())) if (!vips.includes(v)) vips.push(v);
    } catch (err) {
      if (err instanceof ConfigError) for (const p of err.problems) process.stderr.write(`${formatProblem(p)}\n`);
      else process.stderr.write(`palisade realserver: ${errorMessage(err)}\n`);
      return 1;
    }
  }
  const stateFile = values.state ?? defaultStateFile(runtimeDir);
  try {
    if (action === 'status') {
      const st = await realserverStatus({ stateFile });
      if (values.json === true) say(JSON.stringify(st, null, 2));
      else {
        say(st.state === undefined ? 'not set up by palisade realserver' : `set up for ${st.state.vips.join(', ')} (state ${stateFile})`);
        say(`lo: ${st.lo.join(', ')}`);
        for (const [f, v] of Object.entries(st.sysctls)) say(`${f.replace('/proc/sys/', '').replaceAll('/', '.')} = ${v}`);
      }
      return 0;
    }
    if (action === 'stop') {
      const st = await realserverStop({ stateFile });
      say(st === undefined ? 'nothing to undo (no state file)' : `removed ${st.added.join(', ') || 'no VIP'} from lo; restored ${Object.keys(st.sysctls).length} sysctl value(s)`);
      return 0;
    }
    const r = await realserverStart({ vips, interfaces: values.interface, stateFile });
    say(`real server for ${vips.join(', ')}: VIP(s) on lo as /32; arp_ignore=1, arp_announce=2 on all, lo${r.interfaces.length > 0 ? `, ${r.interfaces.join(', ')}` : ''}; undo with palisade realserver stop`);
    if (action === 'run') {
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      await realserverStop({ stateFile });
      say('stopped: previous values restored');
    }
    return 0;
  } catch (err) {
    process.stderr.write(`palisade realserver: ${errorMessage(err)}\n`);
    return 1;
  }
}
