/**
 * The cluster file's `vrrp:` key: virtual IP failover between directors (keepalived
 * `vrrp_instance`, `vrrp_sync_group`, `vrrp_script`, `track_*`, `notify_*`).
 *
 * One cluster file describes every director: an instance lists its `members` (node
 * names → priority and interface), and each node picks its own row. Every default
 * lives here; docs/vrrp.md documents each option with its keepalived equivalent.
 *
 * Units: durations are written `100ms`, `1s`, `2m` (a bare number is seconds) and
 * come out in milliseconds.
 *
 * This file must not import `schema.ts` (which imports it). Member names are only
 * checked to be names here; the cluster schema checks that they are declared nodes.
 */
import { z } from 'zod';
import { durationValue } from './units.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const NAME_MSG = 'expected a name of letters, digits, "_", "." or "-" (at most 63)';
const nameSchema = z.string({ error: NAME_MSG }).regex(NAME, NAME_MSG);

/**
 * A map keyed by names; a bad key is reported at its own path with what a name is
 * (zod's own words would be "Invalid key in record").
 */
function namedRecord<V extends z.ZodType>(key: string, value: V, map: string) {
  return z.record(nameSchema, value, {
    error: (iss) => {
      if (iss.code === 'invalid_key') return `expected ${key} of letters, digits, "_", "." or "-" (at most 63)`;
      if (iss.code === 'invalid_type') return `expected ${map}`;
      return undefined;
    },
  });
}

/** Linux interface names: 1-15 bytes, no "/", ":" or white space, not "." or "..". */
const IFNAME_MSG = 'expected an interface name such as eth0 (1-15 characters, no "/", ":" or spaces)';
const ifnameSchema = z.string({ error: IFNAME_MSG }).regex(/^(?!\.{1,2}$)[^\s/:]{1,15}$/, IFNAME_MSG);

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV4_MSG = 'expected an IPv4 address such as 192.0.2.1 (VRRP here is IPv4 only)';
const ipv4Schema = z.string({ error: IPV4_MSG }).regex(IPV4, IPV4_MSG);

const PORT_MSG = 'expected a port number (1-65535)';
const portSchema = z.number({ error: PORT_MSG }).int(PORT_MSG).min(1, PORT_MSG).max(65535, PORT_MSG);

const ARGV_MSG = 'expected an argument array such as [/usr/local/bin/notify, master] (it never runs through a shell)';
const argvSchema = z.array(z.string().min(1, 'expected a non-empty argument'), { error: ARGV_MSG }).min(1, 'expected at least the program');

const WEIGHT_MSG = 'expected a weight from -254 to 254 (0: a failure means FAULT)';
const weightSchema = z.number({ error: WEIGHT_MSG }).int(WEIGHT_MSG).min(-254, WEIGHT_MSG).max(254, WEIGHT_MSG);

/** A duration of at least `minMs`, with a default; milliseconds after parsing. */
function durationFrom(minMs: number, defaultMs: number) {
  return durationValue()
    .refine((ms) => ms >= minMs, `expected a duration of at least ${minMs}ms`)
    .default(defaultMs);
}

// ---------------------------------------------------------------------------
// Virtual addresses

/** A virtual IPv4 address with its prefix length and, optionally, its own device. */
export interface VirtualAddress {
  /** Dotted quad, e.g. `192.0.2.10`. */
  address: string;
  /** Prefix length 0-32; 32 when not written (as keepalived). */
  prefix: number;
  /** Device to add it on; undefined: the member's VRRP interface. */
  dev: string | undefined;
}

const VIP_MSG = 'expected a virtual address such as 192.0.2.10/24, or { address: 192.0.2.10/24, dev: eth1 }';

function parseCidr(s: string): { address: string; prefix: number } | undefined {
  const m = /^([^/\s]+)(?:\/(\d{1,2}))?$/.exec(s.trim());
  if (!m || !IPV4.test(m[1]!)) return undefined;
  const prefix = m[2] === undefined ? 32 : Number(m[2]);
  if (prefix > 32) return undefined;
  return { address: m[1]!, prefix };
}

const vipObject = z.strictObject({
  /** `a.b.c.d/nn`; the prefix defaults to /32. */
  address: z.string({ error: VIP_MSG }),
  /** Device to add the address on (keepalived `dev`); default: the member's VRRP interface. */
  dev: ifnameSchema.optional(),
});

const vipSchema = z.union([z.string(), vipObject], { error: VIP_MSG }).transform((v, ctx): VirtualAddress => {
  const text = typeof v === 'string' ? v : v.address;
  const cidr = parseCidr(text);
  if (!cidr) {
    ctx.addIssue({ code: 'custom', message: `${VIP_MSG}, got ${JSON.stringify(text)}`, path: typeof v === 'string' ? [] : ['address'] });
    return z.NEVER;
  }
  return { ...cidr, dev: typeof v === 'string' ? undefined : v.dev };
});

// ---------------------------------------------------------------------------
// Members

const memberSchema = z.strictObject({
  /**
   * VRRP priority of this node, 1-255; the highest live one is master. 255 means
   * "address owner" (the VIP is this node's own address): it takes over at once at
   * startup and ignores tracker weights. Default 100 (keepalived `priority`).
   */
  priority: z.number({ error: 'expected a priority from 1 to 255' }).int('expected a priority from 1 to 255').min(1, 'expected a priority from 1 to 255').max(255, 'expected a priority from 1 to 255').default(100),
  /** Interface this node sends and receives adverts on; default: the instance's `interface` (keepalived `interface`). */
  interface: ifnameSchema.optional(),
  /**
   * Source address of this node's adverts, also its primary address for priority
   * ties (higher wins). Default: the node's `address` from `nodes:`
   * (keepalived `mcast_src_ip` / `unicast_src_ip`).
   */
  source_address: ipv4Schema.optional(),
});

export type VrrpMemberConfig = z.output<typeof memberSchema>;

/** A member is `{ priority, interface, source_address }`, a bare priority (`d1: 150`), or empty (`d1:` = all defaults). */
const memberEntrySchema = z.preprocess((v) => (v === null || v === undefined ? {} : typeof v === 'number' ? { priority: v } : v), memberSchema);

// ---------------------------------------------------------------------------
// Trackers

const trackCommon = {
  /** Name shown in logs and status; default: derived from the tracker (program, process, interface or path). */
  name: z.string().min(1).optional(),
};

const proxyTrack = z.strictObject({
  type: z.literal('proxy'),
  ...trackCommon,
  /** Priority change while the local Palisade proxy is not serving; 0 = FAULT. Default 0. */
  weight: weightSchema.default(0),
});

const scriptTrack = z.strictObject({
  type: z.literal('script'),
  ...trackCommon,
  /** Program and arguments, run directly, never through a shell; exit 0 = success (keepalived `vrrp_script { script }`). */
  command: argvSchema,
  /** Time between two runs, in ms; at least 10ms. Default 1s (keepalived `interval`). */
  interval: durationFrom(10, 1_000),
  /** Time limit of one run, in ms; a run past it fails. Default: `interval` (keepalived `timeout`). */
  timeout: durationValue()
    .refine((ms) => ms >= 1, 'expected a duration of at least 1ms')
    .optional(),
  /** Priority change: negative is subtracted while failing, positive added while succeeding; 0 = FAULT while failing. Default 0 (keepalived `weight`). */
  weight: weightSchema.default(0),
  /** Consecutive successes before it counts as succeeding (count 1-100). Default 1 (keepalived `rise`). */
  rise: z.number().int().min(1).max(100).default(1),
  /** Consecutive failures before it counts as failing (count 1-100). Default 1 (keepalived `fall`). */
  fall: z.number().int().min(1).max(100).default(1),
});

const processTrack = z.strictObject({
  type: z.literal('process'),
  ...trackCommon,
  /** Process name as in /proc/PID/comm (15 characters at most), e.g. `nginx` (keepalived `process`). */
  process: z.string().min(1).max(15, 'expected a process name of at most 15 characters (/proc/PID/comm)'),
  /** Fewest running processes of that name that count as success (count ≥ 1). Default 1 (keepalived `quorum`). */
  quorum: z.number().int().min(1).default(1),
  /** Priority change while too few run; 0 = FAULT. Default 0 (keepalived `weight`). */
  weight: weightSchema.default(0),
});

const interfaceTrack = z.strictObject({
  type: z.literal('interface'),
  ...trackCommon,
  /** The interface whose link must be up (keepalived `track_interface`). */
  interface: ifnameSchema,
  /** Priority change while it is down; 0 = FAULT. Default 0. */
  weight: weightSchema.default(0),
});

const fileTrack = z.strictObject({
  type: z.literal('file'),
  ...trackCommon,
  /** File holding an integer (keepalived `vrrp_track_file { file }`); a missing or unreadable file counts as 0. */
  path: z.string().min(1, 'expected a file path'),
  /** The priority changes by the file's value × weight; with weight 0 a non-zero value means FAULT. Default 1 (keepalived `weight`). */
  weight: weightSchema.default(1),
});

export const TRACK_TYPES = ['proxy', 'script', 'process', 'interface', 'file'] as const;

const trackSchema = z.discriminatedUnion('type', [proxyTrack, scriptTrack, processTrack, interfaceTrack, fileTrack], {
  error: `expected a tracker with type: ${TRACK_TYPES.join(', ')}`,
});

export type VrrpTrackConfig = z.output<typeof trackSchema>;

// ---------------------------------------------------------------------------
// Notify, resources, GARP

const notifySchema = z
  .strictObject({
    /** Run on entering MASTER (keepalived `notify_master`), directly, never through a shell. Default none. */
    master: argvSchema.optional(),
    /** Run on entering BACKUP (keepalived `notify_backup`). Default none. */
    backup: argvSchema.optional(),
    /** Run on entering FAULT (keepalived `notify_fault`). Default none. */
    fault: argvSchema.optional(),
    /** Run when the instance stops (keepalived `notify_stop`). Default none. */
    stop: argvSchema.optional(),
    /** Time limit of one notify command, in ms; it is killed after it. Default 30s. */
    timeout: durationFrom(1, 30_000),
  })
  .prefault({});

const resourceSchema = z.strictObject({
  /** Name in logs and status; unique within the instance. */
  name: nameSchema,
  /** Brings the resource up on this node (mount, start a service). Exit 0 = done. */
  start: argvSchema,
  /** Takes it down; run in reverse order on leaving MASTER. Exit 0 = done. */
  stop: argvSchema,
  /** Says whether it runs (exit 0): checked every `interval` while the node is MASTER; a failure puts the instance in FAULT (held 30 s). Default none. */
  status: argvSchema.optional(),
  /** Time between two `status` checks, in ms; at least 10ms. Default 5s. */
  interval: durationFrom(10, 5_000),
  /** Time limit of each of start, stop and status, in ms. Default 30s. */
  timeout: durationFrom(1, 30_000),
});

export type VrrpResourceConfig = z.output<typeof resourceSchema>;

const garpSchema = z
  .strictObject({
    /** Second burst of gratuitous ARPs this long after becoming MASTER, in ms; 0 = none. Default 5s (keepalived `garp_master_delay`). */
    master_delay: durationFrom(0, 5_000),
    /** Gratuitous ARPs per VIP in each burst (count 1-255). Default 5 (keepalived `garp_master_repeat`). */
    master_repeat: z.number().int().min(1).max(255).default(5),
    /** Repeat gratuitous ARPs every this long while MASTER, in ms; 0 = never. Default 0 (keepalived `garp_master_refresh`). */
    master_refresh: durationFrom(0, 0),
    /** Gratuitous ARPs per VIP at each refresh (count 1-255). Default 1 (keepalived `garp_master_refresh_repeat`). */
    master_refresh_repeat: z.number().int().min(1).max(255).default(1),
  })
  .prefault({});

export type GarpConfig = z.output<typeof garpSchema>;

// ---------------------------------------------------------------------------
// Instance

/** v3: the wire carries centiseconds in 12 bits; v2: whole seconds in 8 bits. */
export function advertIntervalProblem(version: 2 | 3, ms: number): string | undefined {
  if (version === 3) {
    if (ms % 10 !== 0 || ms < 10 || ms > 40_950) return `expected a VRRPv3 advert_interval in 10ms steps from 10ms to 40.95s, got ${ms}ms`;
    return undefined;
  }
  if (ms % 1000 !== 0 || ms < 1000 || ms > 255_000) return `expected a VRRPv2 advert_interval in whole seconds from 1s to 255s, got ${ms}ms (sub-second intervals need version: 3)`;
  return undefined;
}

const instanceObject = z.strictObject({
  /** Virtual router ID, 1-255; unique per interface (keepalived `virtual_router_id`). Required. */
  vrid: z.number({ error: 'expected a vrid from 1 to 255' }).int('expected a vrid from 1 to 255').min(1, 'expected a vrid from 1 to 255').max(255, 'expected a vrid from 1 to 255'),
  /** VRRP version: 3 (RFC 5798) or 2 (RFC 3768). Default 3 (keepalived `version`, global `vrrp_version`). */
  version: z.union([z.literal(2), z.literal(3)], { error: 'expected version: 2 or 3' }).default(3),
  /** Interface for adverts on every member that does not set its own (keepalived `interface`). */
  interface: ifnameSchema.optional(),
  /** Time between two adverts of the master, in ms. v3: 10ms steps, 10ms-40.95s; v2: whole seconds, 1-255s. Default 1s (keepalived `advert_int`). */
  advert_interval: durationValue().default(1_000),
  /** The virtual addresses that follow the master, at least one (keepalived `virtual_ipaddress`). */
  virtual_ipaddress: z.array(vipSchema).min(1, 'expected at least one virtual address').max(255, 'at most 255 virtual addresses fit in an advert'),
  /** The directors that take part: node name → its priority and interface. At least one. */
  members: namedRecord('a node name', memberEntrySchema, 'node names with their priority, e.g. { d1: { priority: 150 }, d2: { priority: 100 } }').refine((m) => Object.keys(m).length > 0, 'expected at least one member (node name: { priority: N })'),
  /** A higher-priority backup takes over from a lower-priority master (RFC default). false = keepalived `nopreempt`. Default true. */
  preempt: z.boolean().default(true),
  /** After a backup first hears a lower-priority master, wait this long before preempting it, in ms; 0-1000s. Default 0 (keepalived `preempt_delay`). */
  preempt_delay: durationValue()
    .refine((ms) => ms <= 1_000_000, 'expected a preempt_delay of at most 1000s')
    .default(0),
  /** `raw`: IP protocol 112, interoperable with keepalived (needs CAP_NET_RAW). `udp`: the same packets over UDP unicast, for unprivileged labs; not interoperable. Default raw. */
  transport: z.enum(['raw', 'udp'], { error: 'expected transport: raw or udp' }).default('raw'),
  /** raw: send adverts to each other member's address instead of 224.0.0.18 (keepalived `unicast_peer`). udp is always unicast. Default false. */
  unicast: z.boolean().default(false),
  /** More unicast destinations that are not Palisade members, e.g. a keepalived director (keepalived `unicast_peer`). Default none. */
  unicast_peers: z.array(ipv4Schema).default([]),
  /** UDP port of `transport: udp`. Default 5598. */
  udp_port: portSchema.default(5598),
  garp: garpSchema,
  /** What lowers the priority or puts the instance in FAULT (keepalived `track_script`, `track_process`, `track_interface`, `track_file`). Default none. */
  track: z.array(trackSchema).default([]),
  /** Commands run on state changes, as argument arrays. Default none. */
  notify: notifySchema,
  /** Ordered resources started on MASTER, stopped in reverse on leaving it (heartbeat resource groups). Default none. */
  resources: z.array(resourceSchema).default([]),
});

const instanceSchema = instanceObject.superRefine((inst, ctx) => {
  const interval = advertIntervalProblem(inst.version, inst.advert_interval);
  if (interval) ctx.addIssue({ code: 'custom', path: ['advert_interval'], message: interval });
  for (const [node, m] of Object.entries(inst.members)) {
    if (m.interface === undefined && inst.interface === undefined) {
      ctx.addIssue({ code: 'custom', path: ['members', node, 'interface'], message: `expected an interface for member ${node}: set interface: on the instance or on this member` });
    }
  }
  const owners = Object.entries(inst.members).filter(([, m]) => m.priority === 255);
  if (owners.length > 1) {
    ctx.addIssue({ code: 'custom', path: ['members', owners[1]![0], 'priority'], message: `only one member can be the address owner (priority 255); ${owners.map(([n]) => n).join(' and ')} both are` });
  }
  if (!inst.preempt && inst.preempt_delay > 0) ctx.addIssue({ code: 'custom', path: ['preempt_delay'], message: 'preempt_delay has no effect with preempt: false; remove one of them' });
  if (inst.transport === 'raw' && !inst.unicast && inst.unicast_peers.length > 0) {
    ctx.addIssue({ code: 'custom', path: ['unicast_peers'], message: 'unicast_peers needs unicast: true (without it adverts go to 224.0.0.18)' });
  }
  const seen = new Map<string, number>();
  inst.virtual_ipaddress.forEach((v, i) => {
    const prev = seen.get(v.address);
    if (prev !== undefined) ctx.addIssue({ code: 'custom', path: ['virtual_ipaddress', i], message: `${v.address} is listed twice (also virtual_ipaddress[${prev}])` });
    else seen.set(v.address, i);
  });
  const names = new Map<string, number>();
  inst.resources.forEach((r, i) => {
    const prev = names.get(r.name);
    if (prev !== undefined) ctx.addIssue({ code: 'custom', path: ['resources', i, 'name'], message: `resource ${r.name} is listed twice (also resources[${prev}])` });
    else names.set(r.name, i);
  });
});

export type VrrpInstanceConfig = z.output<typeof instanceSchema>;

// ---------------------------------------------------------------------------
// The `vrrp:` key

/**
 * `vrrp:` of the cluster file: the VRRP instances (each a virtual router with its
 * VIPs and member directors) and sync groups (instances that change state together,
 * keepalived `vrrp_sync_group`). Default: none.
 */
export const vrrpSchema = z
  .strictObject({
    /** Instance name → instance (keepalived `vrrp_instance NAME`). Default none. */
    instances: namedRecord('an instance name', instanceSchema, 'instance names with their settings, e.g. { VI_1: { vrid: 51, ... } }').default({}),
    /** Group name → its instances, at least two; an instance belongs to one group at most (keepalived `vrrp_sync_group`). Default none. */
    sync_groups: namedRecord('a sync group name', z.array(nameSchema, { error: 'expected a list of instance names' }).min(2, 'expected at least two instances in a sync group'), 'sync group names with their instances, e.g. { G1: [VI_1, VI_2] }').default({}),
  })
  .superRefine((cfg, ctx) => {
    // RFC 5798 §5.2.3: a VRID identifies one virtual router on a LAN; two instances
    // with the same VRID on one node's interface would answer each other's adverts.
    const byIfVrid = new Map<string, string>();
    const byVip = new Map<string, string>();
    for (const [name, inst] of Object.entries(cfg.instances)) {
      for (const [node, m] of Object.entries(inst.members)) {
        const ifname = m.interface ?? inst.interface;
        if (ifname === undefined) continue; // reported by the instance
        const key = `${node}\0${ifname}\0${inst.vrid}`;
        const other = byIfVrid.get(key);
        if (other !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['instances', name, 'vrid'], message: `vrid ${inst.vrid} is already used by instance ${other} on interface ${ifname} of node ${node}` });
        } else byIfVrid.set(key, name);
      }
      inst.virtual_ipaddress.forEach((v, i) => {
        const other = byVip.get(v.address);
        if (other !== undefined && other !== name) ctx.addIssue({ code: 'custom', path: ['instances', name, 'virtual_ipaddress', i], message: `${v.address} is already a virtual address of instance ${other}` });
        else byVip.set(v.address, name);
      });
    }
    const groupOf = new Map<string, string>();
    for (const [group, members] of Object.entries(cfg.sync_groups)) {
      const inGroup = new Set<string>();
      members.forEach((inst, i) => {
        const path = ['sync_groups', group, i];
        if (!(inst in cfg.instances)) {
          ctx.addIssue({ code: 'custom', path, message: `unknown instance ${JSON.stringify(inst)}; instances: ${Object.keys(cfg.instances).join(', ') || 'none'}` });
        } else if (inGroup.has(inst)) {
          ctx.addIssue({ code: 'custom', path, message: `${inst} is listed twice in sync group ${group}` });
        } else if (groupOf.has(inst)) {
          ctx.addIssue({ code: 'custom', path, message: `${inst} is already in sync group ${groupOf.get(inst)}; an instance belongs to one sync group at most` });
        } else {
          groupOf.set(inst, group);
        }
        inGroup.add(inst);
      });
    }
  })
  .prefault({});

export type VrrpConfig = z.output<typeof vrrpSchema>;

/** The interface a member sends adverts on (validated to exist). */
export function memberInterface(inst: VrrpInstanceConfig, node: string): string | undefined {
  return inst.members[node]?.interface ?? inst.interface;
}

/** The sync group an instance belongs to, if any. */
export function syncGroupOf(cfg: VrrpConfig, instance: string): string | undefined {
  for (const [group, members] of Object.entries(cfg.sync_groups)) if (members.includes(instance)) return group;
  return undefined;
}
