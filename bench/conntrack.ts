/**
 * What one conntrack read costs: the addon's `conntrack(rows)` (native/vrrp_socket.c),
 * which `palisade status` and the dashboard run at most once a second for the
 * connection counts of mode nat services, over tables of a given size. Needs root
 * and nft.
 *
 *   node_modules/.bin/node bench/conntrack.ts [--sizes 0,10000,100000] [--rounds 5]
 *
 * A one-host lab (its own namespace, 10.99.46.0/24, removed at the end; built twice,
 * once per fill): a table of ours (`ct state new counter` on output) turns conntrack
 * on there, and nonblocking TCP connects to addresses routed to a gateway that is not
 * there (the SYN goes nowhere) leave one entry each in SYN_SENT (120 s): the same kind
 * of entry, with its TCP protocol info, that a NAT flow has.
 *
 * - fill `other`: the entries go to 65,536 addresses (other traffic of the director);
 * - fill `vip`:   they all go to one address, 198.18.0.1 (a VIP's own flows).
 *
 * Rows: `1 VIP` (one VIP, 8 backends: one dump, filtered by the kernel to that VIP's
 * entries) and `64 VIPs` (more VIP addresses than the addon filters for: one
 * unfiltered dump, every entry formatted by the kernel and parsed by the addon). For
 * each it prints the dump's time on its thread-pool thread (median and max over the
 * rounds), the time until the promise resolved, the entries parsed, and the longest
 * event-loop delay while the dumps ran (the loop must not wait for them).
 */
import { createLab, requireSystemHost, srcUrl } from '../test/system/lab.ts';

const NET = 46;
const FILLS = ['other', 'vip'] as const;

function args(argv: string[]): { sizes: number[]; rounds: number } {
  const o = { sizes: [0, 10_000, 100_000], rounds: 5 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--sizes') o.sizes = (argv[++i] ?? '').split(',').map(Number);
    else if (a === '--rounds') o.rounds = Number.parseInt(argv[++i] ?? '', 10);
    else throw new Error(`unknown argument ${a}; usage: bench/conntrack.ts [--sizes N,N,...] [--rounds N]`);
  }
  if (!o.sizes.every((n, i) => Number.isInteger(n) && n >= 0 && n <= 200_000 && (i === 0 || n >= o.sizes[i - 1]!)) || !(o.rounds >= 1 && o.rounds <= 50)) {
    throw new Error('--sizes: 0-200000 each, ascending (a table only grows); --rounds 1-50');
  }
  return o;
}

const { sizes, rounds } = args(process.argv.slice(2));

/** Runs inside the namespace: fills the table up to `size` entries, then times `rounds` dumps per shape of rows. */
function script(size: number, fill: (typeof FILLS)[number]): string {
  const target = fill === 'vip' ? `{ host: '198.18.0.1', port: 1 + (i % 60000) }` : `{ host: '198.18.' + ((i >> 8) & 255) + '.' + (i & 255), port: 80 + (i >> 16) }`;
  return `
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadAddon } from '${srcUrl('src/ha/vrrp/raw.ts')}';
import { encodeConntrackRows } from '${srcUrl('src/proxy/kernel/conntrack.ts')}';
const count = () => Number(readFileSync('/proc/sys/net/netfilter/nf_conntrack_count', 'utf8'));
// one SYN each (no one answers), the socket dropped after its SYN
for (let i = count(); i < ${size}; ) {
  const batch = Math.min(2000, ${size} - i);
  const socks = [];
  for (let j = 0; j < batch; j++, i++) {
    const s = net.connect(${target});
    s.on('error', () => {});
    socks.push(s);
  }
  await new Promise((r) => setTimeout(r, 5));
  for (const s of socks) s.destroy();
}
// rows as a director passes them (the entries here are not NATed: a row's "real server" is the destination itself)
const shapes = {
  '1 VIP': Array.from({ length: 8 }, (_, i) => ({ protocol: 'tcp', vip: '198.18.0.1', vport: 80 + i, server: '198.18.0.1', sport: 80 + i })),
  '64 VIPs': Array.from({ length: 64 }, (_, i) => ({ protocol: 'tcp', vip: '198.18.0.' + i, vport: 80, server: '198.18.0.' + i, sport: 80 })),
};
const addon = loadAddon();
const out = [];
for (const [shape, list] of Object.entries(shapes)) {
  const rows = encodeConntrackRows(list);
  const h = monitorEventLoopDelay({ resolution: 1 });
  const times = [];
  let last;
  h.enable();
  for (let r = 0; r < ${rounds}; r++) {
    const t0 = performance.now();
    last = await addon.conntrack(rows);
    times.push({ thread: last.elapsedMs, wall: performance.now() - t0 });
  }
  h.disable();
  out.push({ shape, dumps: last.dumps, filtered: last.filtered, entries: last.entries, malformed: last.malformed, times, loopMaxMs: h.max / 1e6 });
}
console.log(JSON.stringify({ size: ${size}, table: count(), out }));
`;
}

interface Shape {
  shape: string;
  dumps: number;
  filtered: boolean;
  entries: number;
  malformed: number;
  times: { thread: number; wall: number }[];
  loopMaxMs: number;
}

const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)]!;

requireSystemHost(['nft']);
console.log(`conntrack reads (the addon's conntrack(rows)), ${rounds} rounds each`);
console.log('fill   table    rows     dump      entries parsed  thread median ms  thread max ms  resolved median ms  event-loop max delay ms');
for (const fill of FILLS) {
  const lab = await createLab(undefined, { hosts: ['director'], net: NET });
  try {
    // 198.18.0.0/15 through a gateway that is not there, its MAC pinned: each SYN leaves once onto the lab's bridge, which has no one else to give it to
    const gateway = lab.address(250);
    await lab.exec('director', ['ip', 'neigh', 'add', gateway, 'lladdr', '02:00:00:00:00:fa', 'dev', 'eth0', 'nud', 'permanent']);
    await lab.exec('director', ['ip', 'route', 'add', '198.18.0.0/15', 'via', gateway, 'dev', 'eth0']);
    await lab.exec('director', ['nft', '-f', '-'], { input: 'table ip ctbench {\n  chain out {\n    type filter hook output priority 0; policy accept;\n    ct state new counter\n  }\n}\n' });
    for (const size of sizes) {
      const p = lab.node('director', script(size, fill));
      const m = await p.waitForJson<{ size: number; table: number; out: Shape[] }>((x) => x.size === size, 600_000);
      for (const o of m.out) {
        const thread = o.times.map((t) => t.thread);
        const dump = o.filtered ? `${o.dumps} filt.` : `${o.dumps} full`;
        console.log(
          `${fill.padEnd(7)}${String(m.table).padEnd(9)}${o.shape.padEnd(9)}${dump.padEnd(10)}${String(o.entries).padEnd(16)}${median(thread).toFixed(1).padEnd(18)}${Math.max(...thread).toFixed(1).padEnd(15)}${median(o.times.map((t) => t.wall)).toFixed(1).padEnd(20)}${o.loopMaxMs.toFixed(1)}${o.malformed > 0 ? `  MALFORMED ${o.malformed}` : ''}`,
        );
      }
      await p.exited;
    }
    const buckets = (await lab.exec('director', ['cat', '/proc/sys/net/netfilter/nf_conntrack_buckets'])).stdout.trim();
    if (fill === FILLS.at(-1)) console.log(`(hash table: ${buckets} buckets, net.netfilter.nf_conntrack_buckets; "filt." = the kernel sent only the VIP's entries, CTA_FILTER)`);
  } finally {
    await lab.cleanup();
  }
}
