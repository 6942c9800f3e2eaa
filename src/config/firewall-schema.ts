/**
 * The cluster file's `firewall:` key: an nftables ruleset per node (Palisade's own
 * `table inet palisade`), what hand-written iptables scripts did on the directors.
 *
 * The keys at the top of `firewall:` are cluster-wide; `firewall.nodes.<name>` sets
 * the same keys for one node. A key set for a node replaces the cluster-wide value;
 * the nested objects (`allow`, `ssh`, `agent`, `icmp`, `syn_limit`, `anti_spoofing`)
 * merge key by key, and lists are replaced, never appended. What nothing sets comes
 * from `FIREWALL_DEFAULTS` below, the one place of every default.
 *
 * docs/firewall.md documents each option, the rules generated from it and why.
 *
 * This file must not import `schema.ts` (which imports it). Node names are only
 * checked to be names here; `firewallProblems` checks them against `nodes:`.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { durationValue } from './units.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const NAME_MSG = 'expected a node name of letters, digits, "_", "." or "-" (at most 63)';

const IFNAME_MSG = 'expected an interface name such as eth0 (1-15 characters, no "/", ":", quotes or spaces)';
const ifnameSchema = z.string({ error: IFNAME_MSG }).regex(/^(?!\.{1,2}$)[^\s/:"'\\]{1,15}$/, IFNAME_MSG);

const PORT_MSG = 'expected a port number (1-65535)';
const portSchema = z.number({ error: PORT_MSG }).int(PORT_MSG).min(1, PORT_MSG).max(65535, PORT_MSG);

/** An inclusive port range; `from === to` for a single port. */
export interface PortRange {
  from: number;
  to: number;
}

const RANGE_MSG = 'expected a port (1-65535) or a range such as "8000-8010"';
const portRangeSchema = z.union([z.number(), z.string()], { error: RANGE_MSG }).transform((v, ctx): PortRange => {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(String(v).trim());
  const from = m ? Number(m[1]) : NaN;
  const to = m?.[2] !== undefined ? Number(m[2]) : from;
  if (!m || !Number.isInteger(from) || from < 1 || to > 65535 || to < from) {
    ctx.addIssue({ code: 'custom', message: `${RANGE_MSG}, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return { from, to };
});

const CIDR_MSG = 'expected an IPv4 or IPv6 address or network such as 203.0.113.7, 198.51.100.0/24 or 2001:db8::/32';

/** `addr` or `addr/len` (IPv4 or IPv6); kept as written (trimmed). The firewall module masks host bits. */
function isCidr(s: string): boolean {
  const [addr, len, extra] = s.split('/');
  if (extra !== undefined || addr === undefined) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (len === undefined) return true;
  return /^\d{1,3}$/.test(len) && Number(len) <= (family === 4 ? 32 : 128);
}

const cidrSchema = z.string({ error: CIDR_MSG }).transform((v, ctx) => {
  const s = v.trim();
  if (!isCidr(s)) {
    ctx.addIssue({ code: 'custom', message: `${CIDR_MSG}, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return s;
});

const cidrList = z.array(cidrSchema, { error: `${CIDR_MSG} (a list)` });

const RATE_MSG = 'expected a rate in packets per second (integer 1-1000000)';
const rateSchema = z.number({ error: RATE_MSG }).int(RATE_MSG).min(1, RATE_MSG).max(1_000_000, RATE_MSG);

/** The resolved firewall settings of one node. */
export interface FirewallSettings {
  /** Manage this node's firewall at all. Default true; false: `palisade firewall plan/apply` refuse for this node. */
  enabled: boolean;
  /** Interfaces facing the Internet: anti-spoofing applies to packets arriving on them. Default none (anti-spoofing then matches nothing; `plan` warns). */
  public_interfaces: string[];
  /** Open the TCP listen ports of the services this node runs (derived from `services:`). Default true. */
  service_ports: boolean;
  /** More inbound ports open to every source. Default none. */
  allow: { tcp: PortRange[]; udp: PortRange[] };
  /** SSH on `port` (default 22) from `sources` only (CIDRs; default none: SSH closed to everyone, `plan` warns). */
  ssh: { port: number; sources: string[] };
  /** The agent's TCP ports (default none) from the monitor's addresses `sources` only (default none). */
  agent: { ports: number[]; sources: string[] };
  /** Accept VRRP (IP protocol 112, or the udp transport's port) from the peer directors of the `vrrp:` instances this node is a member of. Default true. */
  vrrp: boolean;
  /** ICMP echo requests accepted per second (IPv4 and IPv6 each, all sources together), with a burst (packets). Defaults 10/s, burst 20. */
  icmp: { echo_rate: number; echo_burst: number };
  /** New TCP connections (SYNs) per second per source address, with a burst; a source past it has its SYNs dropped. Defaults: on, 100/s, burst 200, 65536 tracked sources, idle entries forgotten after 60s (ms after parsing). */
  syn_limit: { enabled: boolean; rate: number; burst: number; table_size: number; timeout: number };
  /** Drop TCP packets with stealth-scan flag combinations (NONE, SYN+FIN, SYN+RST, FIN+RST, FIN/PSH/URG without ACK). Default true. */
  drop_scan_flags: boolean;
  /** Drop packets from private / reserved sources arriving on a public interface. Default on, RFC 6890 special-purpose ranges; `exclude` (default none) and the cluster's own addresses are exempt. */
  anti_spoofing: { enabled: boolean; sources: string[]; exclude: string[] };
}

/**
 * Sources that never legitimately arrive from the Internet (RFC 6890 and its
 * registries): unspecified, private, shared, loopback, link-local (IPv4), IETF
 * protocol assignments, documentation, benchmarking, multicast, reserved; IPv6
 * loopback, IPv4-mapped, discard, documentation, unique local, site-local, multicast.
 * Not IPv6 link-local (fe80::/10) nor `::`: neighbour discovery and DAD need them.
 */
export const RESERVED_SOURCES: readonly string[] = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '::1/128',
  '::ffff:0:0/96',
  '100::/64',
  '2001:db8::/32',
  'fc00::/7',
  'fec0::/10',
  'ff00::/8',
];

/** Every default of `firewall:`. */
export const FIREWALL_DEFAULTS: FirewallSettings = {
  enabled: true,
  public_interfaces: [],
  service_ports: true,
  allow: { tcp: [], udp: [] },
  ssh: { port: 22, sources: [] },
  agent: { ports: [], sources: [] },
  vrrp: true,
  icmp: { echo_rate: 10, echo_burst: 20 },
  syn_limit: { enabled: true, rate: 100, burst: 200, table_size: 65_536, timeout: 60_000 },
  drop_scan_flags: true,
  anti_spoofing: { enabled: true, sources: [...RESERVED_SOURCES], exclude: [] },
};

// Every key optional here: absence must stay visible so that a node's value can
// fall back to the cluster-wide one, and that one to FIREWALL_DEFAULTS.
const settingsShape = {
  enabled: z.boolean({ error: 'expected true or false' }).optional(),
  public_interfaces: z.array(ifnameSchema, { error: 'expected a list of interface names such as [eth0]' }).optional(),
  service_ports: z.boolean({ error: 'expected true or false' }).optional(),
  allow: z
    .strictObject({
      tcp: z.array(portRangeSchema, { error: `${RANGE_MSG} (a list)` }).optional(),
      udp: z.array(portRangeSchema, { error: `${RANGE_MSG} (a list)` }).optional(),
    })
    .optional(),
  ssh: z.strictObject({ port: portSchema.optional(), sources: cidrList.optional() }).optional(),
  agent: z.strictObject({ ports: z.array(portSchema, { error: `${PORT_MSG} (a list)` }).optional(), sources: cidrList.optional() }).optional(),
  vrrp: z.boolean({ error: 'expected true or false' }).optional(),
  icmp: z.strictObject({ echo_rate: rateSchema.optional(), echo_burst: rateSchema.optional() }).optional(),
  syn_limit: z
    .strictObject({
      enabled: z.boolean({ error: 'expected true or false' }).optional(),
      rate: rateSchema.optional(),
      burst: rateSchema.optional(),
      table_size: z.number({ error: 'expected a number of source addresses (integer 16-16777216)' }).int().min(16).max(16_777_216).optional(),
      timeout: durationValue()
        .refine((ms) => ms >= 1_000 && ms % 1_000 === 0, 'expected whole seconds, at least 1s')
        .optional(),
    })
    .optional(),
  drop_scan_flags: z.boolean({ error: 'expected true or false' }).optional(),
  anti_spoofing: z.strictObject({ enabled: z.boolean({ error: 'expected true or false' }).optional(), sources: cidrList.optional(), exclude: cidrList.optional() }).optional(),
};

const settingsSchema = z.strictObject(settingsShape);
type SettingsInput = z.output<typeof settingsSchema>;

function pick<T>(a: T, b: T | undefined): T {
  return b === undefined ? a : b;
}

function sub<T extends object>(a: T, b: Partial<T> | undefined): T {
  if (b === undefined) return a;
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** `base` with what `over` sets: scalars and lists replaced, nested objects merged key by key. */
function mergeSettings(base: FirewallSettings, over: SettingsInput): FirewallSettings {
  return {
    enabled: pick(base.enabled, over.enabled),
    public_interfaces: pick(base.public_interfaces, over.public_interfaces),
    service_ports: pick(base.service_ports, over.service_ports),
    allow: sub(base.allow, over.allow),
    ssh: sub(base.ssh, over.ssh),
    agent: sub(base.agent, over.agent),
    vrrp: pick(base.vrrp, over.vrrp),
    icmp: sub(base.icmp, over.icmp),
    syn_limit: sub(base.syn_limit, over.syn_limit),
    drop_scan_flags: pick(base.drop_scan_flags, over.drop_scan_flags),
    anti_spoofing: sub(base.anti_spoofing, over.anti_spoofing),
  };
}

/**
 * `firewall:` of the cluster file. Absent: Palisade manages no firewall. After
 * parsing: `settings` (cluster-wide, defaults filled in) and `nodes` (each node
 * that has its own keys, resolved against `settings`).
 */
export const firewallSchema = z
  .strictObject({
    ...settingsShape,
    /** Node name → the keys that differ on that node. Default none. */
    nodes: z
      .record(z.string().regex(NAME, NAME_MSG), settingsSchema.nullish().transform((v) => v ?? {}), { error: 'expected node names with their firewall keys, e.g. { d1: { public_interfaces: [ens3] } }' })
      .optional(),
  })
  .transform(({ nodes, ...wide }) => {
    const settings = mergeSettings(FIREWALL_DEFAULTS, wide);
    const perNode: Record<string, FirewallSettings> = {};
    for (const [name, over] of Object.entries(nodes ?? {})) perNode[name] = mergeSettings(settings, over);
    return { settings, nodes: perNode };
  });

export type FirewallConfig = z.output<typeof firewallSchema>;

/** The settings that apply on `node`. */
export function firewallSettingsFor(fw: FirewallConfig, node: string): FirewallSettings {
  return fw.nodes[node] ?? fw.settings;
}

/** Problems the cluster schema reports: node names under `firewall.nodes` that `nodes:` does not declare. */
export function firewallProblems(fw: FirewallConfig | undefined, declaredNodes: readonly string[]): { path: (string | number)[]; message: string }[] {
  if (fw === undefined) return [];
  const out: { path: (string | number)[]; message: string }[] = [];
  for (const name of Object.keys(fw.nodes)) {
    if (!declaredNodes.includes(name)) out.push({ path: ['firewall', 'nodes', name], message: `unknown node ${JSON.stringify(name)}; declared nodes: ${declaredNodes.join(', ') || 'none'}` });
  }
  return out;
}
