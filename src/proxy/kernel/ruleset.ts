/**
 * The kernel data plane of tcp/udp services in `mode: nat` and `mode: dr` (the LVS
 * job without copying through Node): a pure renderer from the services and their
 * backends' states to one `nft -f` transaction that replaces Palisade's own two
 * tables, `table ip palisade_lb` (NAT) and `table netdev palisade_dr` (direct
 * routing). No other table is ever named, so nothing else is flushed.
 *
 * Both modes choose a backend through a table of SLOTS slots (a verdict map from
 * slot number to a per-backend chain): `numgen inc mod SLOTS` in NAT (one pick per
 * new connection; conntrack carries the rest of the flow), `jhash` of the flow (or
 * of the source address for `sh`) in DR, where the netdev ingress hook sees every
 * packet and keeps no state. Slots are dealt by weight in smooth-WRR order over
 * every configured backend; the slots of a backend that is not usable go to the
 * usable ones. So a health flip moves only the slots of the backend that flipped:
 * in DR, connections on the other real servers keep hashing to the same server.
 */

/** Slots of every service's table: 240 divides evenly by 1-6, 8, 10, 12, 15 and 16 backends. */
export const SLOTS = 240;

export const NAT_TABLE = 'palisade_lb';
export const DR_TABLE = 'palisade_dr';

export interface KernelBackend {
  /** Identity (`host:port`), as in the cluster file. */
  id: string;
  host: string;
  port: number;
  /** Configured weight; 0 takes no new connections. */
  weight: number;
  backup: boolean;
  /** May take new connections now (health up, not drained, not `down: true`; in mode dr, its MAC known). */
  usable: boolean;
  /** mode dr: the real server's MAC. */
  mac?: string | undefined;
}

export interface KernelService {
  name: string;
  protocol: 'tcp' | 'udp';
  mode: 'nat' | 'dr';
  /** The virtual addresses (IPv4) and ports. */
  listen: readonly { host: string; port: number }[];
  scheduler: string;
  /** mode nat: masquerade towards the backends (`snat`) or rely on their default route (`route`). */
  replies: 'snat' | 'route';
  /** mode dr: the director's interface on the real servers' segment. */
  interface?: string | undefined;
  /** mode dr: that interface's MAC, the source of forwarded frames. */
  interfaceMac?: string | undefined;
  counters: boolean;
  backends: readonly KernelBackend[];
}

/** Where each slot points: an index into `backends`, or the empty array when no backend can take a connection. Pure. */
export function dealSlots(backends: readonly KernelBackend[], slots = SLOTS): number[] {
  const configured = (backup: boolean) => backends.map((b, i) => ({ b, i })).filter((x) => x.b.backup === backup && x.b.weight > 0);
  const canTake = (x: { b: KernelBackend }) => x.b.usable;
  // backups only when no primary can take a connection (nginx `backup`, LVS sorry-less fallback)
  let pool = configured(false);
  if (!pool.some(canTake)) pool = configured(true);
  const up = pool.filter(canTake);
  if (up.length === 0) return [];
  const base = smoothOrder(pool.map((x) => x.b.weight), slots).map((k) => pool[k]!);
  const refill = smoothOrder(up.map((x) => x.b.weight), slots);
  let next = 0;
  return base.map((x) => (canTake(x) ? x.i : up[refill[next++]!]!.i));
}

/** `n` picks of smooth weighted round robin (nginx's algorithm) over `weights`: indices, in order. Pure. */
export function smoothOrder(weights: readonly number[], n: number): number[] {
  const total = weights.reduce((a, w) => a + w, 0);
  const current = weights.map(() => 0);
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    let best = 0;
    for (let i = 0; i < weights.length; i++) {
      current[i]! += weights[i]!;
      if (current[i]! > current[best]!) best = i;
    }
    current[best]! -= total;
    out.push(best);
  }
  return out;
}

/** Name of the counter of backend `j` of service `i` (nft identifiers must not carry the service's `-` or `.`). */
export function counterName(i: number, j: number): string {
  return `c_${i}_${j}`;
}

/** Counter values to start from, by service name and backend id (so a flip or reload does not reset them). */
export type CounterValues = ReadonlyMap<string, { packets: number; bytes: number }>;

/** The key of `CounterValues`. */
export function counterKey(service: string, backend: string): string {
  return `${service}\u0000${backend}`;
}

function counterDef(name: string, v: { packets: number; bytes: number } | undefined): string {
  return v === undefined ? `  counter ${name} {}\n` : `  counter ${name} { packets ${v.packets} bytes ${v.bytes} }\n`;
}

function vmap(expr: string, slots: readonly number[], chain: (j: number) => string, seed = false): string {
  return `    ${expr} mod ${slots.length}${seed ? ' seed 0x50414c49' : ''} vmap { ${slots.map((j, k) => `${k} : jump ${chain(j)}`).join(', ')} }\n`;
}

/** The transaction that removes both of our tables (if they exist) and nothing else. */
export function removeKernelRuleset(): string {
  return `table ip ${NAT_TABLE} {}\ndelete table ip ${NAT_TABLE}\ntable netdev ${DR_TABLE} {}\ndelete table netdev ${DR_TABLE}\n`;
}

function quote(dev: string): string {
  return `"${dev}"`;
}

/**
 * One `nft -f` transaction that replaces our tables with the rules of `services`
 * (the active ones: those whose VIP this director holds). Pure. With no service of
 * a mode, its table is removed.
 */
export function renderKernelRuleset(services: readonly KernelService[], counters: CounterValues = new Map(), header = ''): string {
  let out = header === '' ? '' : `# ${header}\n`;
  out += removeKernelRuleset();
  const nat = services.map((s, i) => ({ s, i })).filter((x) => x.s.mode === 'nat');
  const dr = services.map((s, i) => ({ s, i })).filter((x) => x.s.mode === 'dr');
  if (nat.length > 0) {
    out += `table ip ${NAT_TABLE} {\n`;
    const pre: string[] = [];
    const post: string[] = [];
    for (const { s, i } of nat) {
      s.backends.forEach((b, j) => {
        const name = counterName(i, j);
        if (s.counters) out += counterDef(name, counters.get(counterKey(s.name, b.id)));
        out += `  chain s${i}_b${j} {\n${s.counters ? `    counter name ${name}\n` : ''}    meta l4proto ${s.protocol} dnat to ${b.host}:${b.port}\n  }\n`;
      });
      const slots = dealSlots(s.backends);
      const pick = s.scheduler === 'sh' ? 'jhash ip saddr' : 'numgen inc';
      // no usable backend: the empty chain returns, and the packet reaches the director itself (which refuses it)
      out += `  chain s${i} {\n${slots.length > 0 ? vmap(pick, slots, (j) => `s${i}_b${j}`, pick !== 'numgen inc') : ''}  }\n`;
      for (const l of s.listen) {
        pre.push(`    ip daddr ${l.host} ${s.protocol} dport ${l.port} jump s${i}\n`);
        if (s.replies === 'snat') post.push(`    ct status dnat ct original ip daddr ${l.host} ct protocol ${s.protocol} ct original proto-dst ${l.port} masquerade\n`);
      }
    }
    out += `  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n${pre.join('')}  }\n`;
    // connections the director opens itself to a VIP (its own checks, a local client)
    out += `  chain output {\n    type nat hook output priority -100; policy accept;\n${pre.join('')}  }\n`;
    out += `  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n${post.join('')}  }\n`;
    out += '}\n';
  }
  if (dr.length > 0) {
    out += `table netdev ${DR_TABLE} {\n`;
    const byDevice = new Map<string, string[]>();
    for (const { s, i } of dr) {
      const dev = s.interface ?? '';
      s.backends.forEach((b, j) => {
        const name = counterName(i, j);
        if (s.counters) out += counterDef(name, counters.get(counterKey(s.name, b.id)));
        // LVS -g: only the MACs change; the source MAC becomes the director's so the
        // segment's switches never learn the client's MAC behind the director's port
        const rewrite = b.mac === undefined ? '' : `    ether saddr set ${s.interfaceMac ?? '00:00:00:00:00:00'} ether daddr set ${b.mac} fwd to ${quote(dev)}\n`;
        out += `  chain s${i}_b${j} {\n${s.counters ? `    counter name ${name}\n` : ''}${rewrite}  }\n`;
      });
      const slots = dealSlots(s.backends);
      // no state at ingress: a hash of the flow keeps each connection on one real server
      const pick = s.scheduler === 'sh' ? 'jhash ip saddr' : `jhash ip saddr . ${s.protocol} sport`;
      out += `  chain s${i} {\n${slots.length > 0 ? vmap(pick, slots, (j) => `s${i}_b${j}`, true) : ''}  }\n`;
      const rules = byDevice.get(dev) ?? [];
      for (const l of s.listen) rules.push(`    ip daddr ${l.host} ${s.protocol} dport ${l.port} jump s${i}\n`);
      byDevice.set(dev, rules);
    }
    let k = 0;
    for (const [dev, rules] of byDevice) {
      out += `  chain in${k++} {\n    type filter hook ingress device ${quote(dev)} priority -500; policy accept;\n${rules.join('')}  }\n`;
    }
    out += '}\n';
  }
  return out;
}

/** Named counters of our two tables from `nft -j list counters` output (name → packets, bytes), per table. Pure. */
export function parseKernelCounters(json: string): Map<string, { packets: number; bytes: number }> {
  const doc = JSON.parse(json) as { nftables?: Record<string, unknown>[] };
  const out = new Map<string, { packets: number; bytes: number }>();
  for (const item of doc.nftables ?? []) {
    const c = item.counter as { family?: string; table?: string; name?: string; packets?: number; bytes?: number } | undefined;
    if (c === undefined || c.name === undefined) continue;
    if (!((c.family === 'ip' && c.table === NAT_TABLE) || (c.family === 'netdev' && c.table === DR_TABLE))) continue;
    out.set(c.name, { packets: c.packets ?? 0, bytes: c.bytes ?? 0 });
  }
  return out;
}
