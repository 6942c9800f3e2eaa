/**
 * A firewall plan as nftables ruleset text, in Palisade's own `table inet palisade`
 * (IPv4 and IPv6 in one table). Pure.
 *
 * The text is one `nft -f` transaction that replaces only our table: it first makes
 * sure the table exists (`table inet palisade {}` is a no-op if it does), deletes it,
 * and defines it anew. nft applies a file atomically: either the whole new table is
 * in place or, if anything in the file is refused, nothing changed. No other table
 * is named, and there is no `flush ruleset`.
 *
 * Order of the rules, and why:
 * - `prerouting` at priority raw (-300), before connection tracking: stealth-scan
 *   flag combinations and spoofed sources are dropped before they cost a conntrack
 *   entry; both are invalid in any state, so no connection can need them.
 * - `input` with policy drop: loopback; established/related (the conntrack shortcut:
 *   every packet of an accepted connection leaves after one rule); invalid dropped;
 *   ICMP essentials; the per-source SYN limit (before any port is opened, so it covers
 *   them all); VRRP from the peers; SSH and the agent from their sources; the open
 *   ports; the rest counted and dropped.
 */
import type { PortRange } from '../config/firewall-schema.ts';
import type { FirewallPlan, Sources } from './plan.ts';

export const TABLE_FAMILY = 'inet';
export const TABLE_NAME = 'palisade';

/** Stealth-scan flag combinations: counter name, the match, and what it is. Order matters: each packet is counted once, by the first that matches. */
export const SCAN_RULES: readonly { counter: string; match: string; what: string }[] = [
  { counter: 'scan_null', match: 'tcp flags & (fin|syn|rst|psh|ack|urg) == 0x0', what: 'no flags (NULL scan)' },
  { counter: 'scan_syn_fin', match: 'tcp flags & (syn|fin) == syn|fin', what: 'SYN+FIN' },
  { counter: 'scan_syn_rst', match: 'tcp flags & (syn|rst) == syn|rst', what: 'SYN+RST' },
  { counter: 'scan_fin_rst', match: 'tcp flags & (fin|rst) == fin|rst', what: 'FIN+RST' },
  { counter: 'scan_fin_no_ack', match: 'tcp flags & (fin|ack) == fin', what: 'FIN without ACK (FIN and Xmas scans)' },
  { counter: 'scan_psh_no_ack', match: 'tcp flags & (psh|ack) == psh', what: 'PSH without ACK' },
  { counter: 'scan_urg_no_ack', match: 'tcp flags & (urg|ack) == urg', what: 'URG without ACK' },
];

/** Every named counter the ruleset can hold, with what it counts (for `status` and the docs). */
export const COUNTERS: Readonly<Record<string, string>> = {
  ...Object.fromEntries(SCAN_RULES.map((r) => [r.counter, `TCP ${r.what} dropped`])),
  spoofed_source: 'private / reserved source on a public interface dropped',
  ct_invalid: 'packets conntrack found invalid dropped',
  icmp_echo_limited: 'ICMP echo requests over the rate dropped',
  syn_flood: 'SYNs over the per-source rate dropped',
  ssh_denied: 'SSH from a source not in ssh.sources dropped',
  agent_denied: 'agent port from a source not in agent.sources dropped',
  input_dropped: 'other inbound packets dropped (default drop)',
};

function ports(list: readonly PortRange[] | readonly number[]): string {
  const items = list.map((p) => (typeof p === 'number' ? String(p) : p.from === p.to ? String(p.from) : `${p.from}-${p.to}`));
  return items.length === 1 ? items[0]! : `{ ${items.join(', ')} }`;
}

function set(items: readonly string[]): string {
  return items.length === 1 ? items[0]! : `{ ${items.join(', ')} }`;
}

function comment(text: string): string {
  return `comment "${text.replace(/["\\]/g, '').slice(0, 120)}"`;
}

/** Rules matching a source list for IPv4 and IPv6 (none for an empty family). */
function bySource(src: Sources, rest: string): string[] {
  const out: string[] = [];
  if (src.v4.length > 0) out.push(`ip saddr ${set(src.v4)} ${rest}`);
  if (src.v6.length > 0) out.push(`ip6 saddr ${set(src.v6)} ${rest}`);
  return out;
}

function intervalSet(name: string, type: string, elements: readonly string[]): string[] {
  const out = [`\tset ${name} {`, `\t\ttype ${type}`, '\t\tflags interval'];
  if (elements.length > 0) out.push(`\t\telements = { ${elements.join(', ')} }`);
  out.push('\t}');
  return out;
}

function inputRules(plan: FirewallPlan): string[] {
  const s = plan.settings;
  const r: string[] = [];
  r.push('iifname "lo" accept');
  r.push('ct state established,related accept');
  r.push('ct state invalid counter name ct_invalid drop');
  // ICMP essentials: errors (RFC 1191 / RFC 8201 path MTU discovery needs
  // fragmentation-needed and packet-too-big; most arrive as "related" already),
  // IPv6 neighbour discovery from the link only (hop limit 255, RFC 4861 §7.1.1),
  // echo at a bounded rate.
  r.push('icmp type { destination-unreachable, time-exceeded, parameter-problem } accept');
  r.push('icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem } accept');
  r.push('icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } ip6 hoplimit 255 accept');
  r.push(`icmp type echo-request limit rate ${s.icmp.echo_rate}/second burst ${s.icmp.echo_burst} packets accept`);
  r.push(`icmpv6 type echo-request limit rate ${s.icmp.echo_rate}/second burst ${s.icmp.echo_burst} packets accept`);
  r.push('icmp type echo-request counter name icmp_echo_limited drop');
  r.push('icmpv6 type echo-request counter name icmp_echo_limited drop');
  if (s.syn_limit.enabled) {
    const lim = `limit rate over ${s.syn_limit.rate}/second burst ${s.syn_limit.burst} packets`;
    // A new connection attempt: SYN without ACK, FIN or RST. IPv6 sources are
    // limited per /64: one host usually holds a whole /64.
    r.push(`tcp flags & (fin|syn|rst|ack) == syn update @syn_v4 { ip saddr ${lim} } counter name syn_flood drop`);
    r.push(`tcp flags & (fin|syn|rst|ack) == syn update @syn_v6 { ip6 saddr & ffff:ffff:ffff:ffff:: ${lim} } counter name syn_flood drop`);
  }
  for (const v of plan.vrrp) {
    if (v.transport === 'raw') {
      const to = v.daddrs.length > 0 ? `ip daddr ${set(v.daddrs)} ` : '';
      r.push(...bySource(v.peers, `${to}ip protocol vrrp accept ${comment(`vrrp ${v.instance}`)}`));
    } else {
      r.push(...bySource(v.peers, `udp dport ${v.port} accept ${comment(`vrrp ${v.instance} (udp transport)`)}`));
    }
  }
  r.push(...bySource(plan.ssh.sources, `tcp dport ${plan.ssh.port} accept ${comment('ssh')}`));
  r.push(`tcp dport ${plan.ssh.port} counter name ssh_denied drop`);
  if (plan.agent.ports.length > 0) {
    r.push(...bySource(plan.agent.sources, `tcp dport ${ports(plan.agent.ports)} accept ${comment('agent from the monitor')}`));
    r.push(`tcp dport ${ports(plan.agent.ports)} counter name agent_denied drop`);
  }
  for (const o of plan.open) {
    const to = o.daddr === undefined ? '' : `${o.daddr.includes(':') ? 'ip6' : 'ip'} daddr ${o.daddr} `;
    r.push(`${to}${o.proto} dport ${ports(o.ports)} accept ${comment(o.why)}`);
  }
  r.push('counter name input_dropped drop');
  return r;
}

function preroutingRules(plan: FirewallPlan): string[] {
  const r: string[] = [];
  if (plan.settings.drop_scan_flags) for (const sc of SCAN_RULES) r.push(`${sc.match} counter name ${sc.counter} drop`);
  const ifs = plan.settings.public_interfaces;
  if (plan.spoof !== undefined && ifs.length > 0) {
    const on = `iifname ${set(ifs.map((i) => `"${i}"`))}`;
    if (plan.spoof.sources.v4.length > 0) r.push(`${on} ip saddr @spoof_v4 ip saddr != @trusted_v4 counter name spoofed_source drop`);
    if (plan.spoof.sources.v6.length > 0) r.push(`${on} ip6 saddr @spoof_v6 ip6 saddr != @trusted_v6 counter name spoofed_source drop`);
  }
  return r;
}

/**
 * The ruleset text for `nft -f`: the replacing transaction (when `transaction` is
 * true, the default) or only the table definition.
 */
export function renderRuleset(plan: FirewallPlan, opts: { transaction?: boolean; source?: string } = {}): string {
  const s = plan.settings;
  const out: string[] = [];
  out.push(`# Palisade firewall of node ${plan.node} (cluster ${plan.cluster})${opts.source === undefined ? '' : `, from ${opts.source}`}.`);
  out.push('# Generated: change the cluster file and run `palisade firewall apply`, not this text.');
  for (const w of plan.warnings) out.push(`# warning: ${w}`);
  if (opts.transaction !== false) {
    out.push('# Replaces only this table, atomically; other tables are left as they are.');
    out.push(`table ${TABLE_FAMILY} ${TABLE_NAME} {}`);
    out.push(`delete table ${TABLE_FAMILY} ${TABLE_NAME}`);
  }
  out.push(`table ${TABLE_FAMILY} ${TABLE_NAME} {`);
  for (const name of Object.keys(COUNTERS)) out.push(`\tcounter ${name} {`, '\t}');
  if (plan.spoof !== undefined) {
    out.push(...intervalSet('spoof_v4', 'ipv4_addr', plan.spoof.sources.v4));
    out.push(...intervalSet('spoof_v6', 'ipv6_addr', plan.spoof.sources.v6));
    out.push(...intervalSet('trusted_v4', 'ipv4_addr', plan.spoof.trusted.v4));
    out.push(...intervalSet('trusted_v6', 'ipv6_addr', plan.spoof.trusted.v6));
  }
  if (s.syn_limit.enabled) {
    for (const [name, type] of [
      ['syn_v4', 'ipv4_addr'],
      ['syn_v6', 'ipv6_addr'],
    ] as const) {
      out.push(`\tset ${name} {`, `\t\ttype ${type}`, `\t\tsize ${s.syn_limit.table_size}`, '\t\tflags dynamic,timeout', `\t\ttimeout ${s.syn_limit.timeout / 1000}s`, '\t}');
    }
  }
  out.push('\tchain prerouting {', '\t\ttype filter hook prerouting priority raw; policy accept;');
  for (const rule of preroutingRules(plan)) out.push(`\t\t${rule}`);
  out.push('\t}');
  out.push('\tchain input {', '\t\ttype filter hook input priority filter; policy drop;');
  for (const rule of inputRules(plan)) out.push(`\t\t${rule}`);
  out.push('\t}');
  out.push('}');
  return `${out.join('\n')}\n`;
}

/** The transaction that removes our table, whether or not it exists. */
export function removeRuleset(): string {
  return `table ${TABLE_FAMILY} ${TABLE_NAME} {}\ndelete table ${TABLE_FAMILY} ${TABLE_NAME}\n`;
}

/** The transaction that puts back a table listed by `nft list table inet palisade` (or removes ours if there was none). */
export function restoreRuleset(saved: string | undefined): string {
  return saved === undefined ? removeRuleset() : `${removeRuleset()}${saved.endsWith('\n') ? saved : `${saved}\n`}`;
}
