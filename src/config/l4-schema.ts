/**
 * Schema of layer-4 services (`protocol: tcp` and `protocol: udp`, the LVS job) and
 * the union of every service kind on `protocol`. docs/l4.md describes every option.
 *
 * The options a tcp/udp service shares with an http service (listen, nodes,
 * scheduler, backends, health, passive, on_down, sorry_server, persistence) are the
 * very same validators, picked from the http service schema in schema.ts; this file
 * holds only what is specific to layer 4.
 *
 * Units: durations are written `500ms`, `5s`, `2m`, `1h` (a bare number is seconds)
 * and come out in milliseconds.
 */
import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import { duration } from './units.ts';

/** The options a tcp/udp service takes from the http service schema, unchanged. */
export const L4_SHARED = {
  listen: true,
  nodes: true,
  scheduler: true,
  backends: true,
  health: true,
  passive: true,
  on_down: true,
  sorry_server: true,
  persistence: true,
} as const;

const CIDR_ERROR = 'expected an address or network such as 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32';

/** Parses `a.b.c.d`, `a.b.c.d/n`, `v6`, `v6/n`; undefined when invalid. Pure. */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const t = text.trim();
  const slash = t.indexOf('/');
  const address = slash < 0 ? t : t.slice(0, slash);
  const v = isIP(address);
  if (v === 0) return undefined;
  const max = v === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = t.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return undefined;
    prefix = Number(p);
    if (prefix > max) return undefined;
  }
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

const cidr = z.string({ error: CIDR_ERROR }).superRefine((s, ctx) => {
  if (parseCidr(s) === undefined) ctx.addIssue({ code: 'custom', message: `${CIDR_ERROR}, got ${JSON.stringify(s)}` });
});

/** A BlockList holding the given networks (validated with `parseCidr` first); IPv4-mapped IPv6 clients match IPv4 entries. */
export function cidrList(list: readonly string[]): BlockList {
  const bl = new BlockList();
  for (const s of list) {
    const c = parseCidr(s);
    if (c === undefined) continue;
    bl.addSubnet(c.address, c.prefix, c.family);
  }
  return bl;
}

// ---- kernel modes (nat, dr) ---------------------------------------------------

/** Where a tcp/udp service's packets are balanced: in this process, or in the kernel through nftables. */
export const L4_MODES = ['proxy', 'nat', 'dr'] as const;
export type L4Mode = (typeof L4_MODES)[number];

/** Schedulers the kernel modes implement (see docs/l4.md: rr, wrr and swrr are one weighted slot table; sh hashes the source address). */
export const KERNEL_SCHEDULERS = ['rr', 'wrr', 'swrr', 'sh'] as const;

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const IFNAME = /^[A-Za-z0-9_.:@-]{1,15}$/;

const ipv4 = z.string().refine((s) => isIP(s) === 4, 'expected an IPv4 address such as 10.0.0.11');

const kernelSchema = z.strictObject({
  /**
   * mode nat: how replies get back through the director. `snat` (default): the
   * director masquerades connections to the backends with its own address on their
   * network, so they need no route; the backends see the director as the client.
   * `route`: no SNAT; the backends' default route must be the director (LVS -m
   * proper), and they see the real client address.
   */
  replies: z.enum(['snat', 'route']).optional(),
  /** mode dr: the director's interface on the real servers' L2 segment, e.g. eth0; required in mode dr. */
  interface: z.string().regex(IFNAME, 'expected an interface name such as eth0').optional(),
  /**
   * mode dr: real servers' MAC addresses by backend address (`10.0.0.11: 02:00:00:00:00:0b`).
   * A backend not listed is resolved from the director's neighbour table (`ip neigh`,
   * after one probe datagram) when the ruleset is built. Default none (all resolved).
   */
  macs: z.record(ipv4, z.string().regex(MAC, 'expected a MAC address such as 02:00:00:00:00:0b')).optional(),
  /** Keep per-backend counters (nft named counters) shown by `palisade status`. Default true. */
  counters: z.boolean().default(true),
});

export type KernelOptions = z.output<typeof kernelSchema>;

const modeOption = z.enum(L4_MODES).default('proxy');

/** Options that have no meaning when the kernel carries the packets, refused by name in mode nat / dr. */
const KERNEL_REFUSED: Record<string, string> = {
  connect_timeout: 'the kernel forwards packets; the client connects to the backend itself',
  connect_tries: 'the kernel forwards packets; the client connects to the backend itself',
  idle_timeout: 'conntrack\'s own timeouts apply (sysctl net.netfilter.nf_conntrack_*_timeout*)',
  half_close_timeout: 'conntrack\'s own timeouts apply (sysctl net.netfilter.nf_conntrack_tcp_timeout_fin_wait)',
  proxy_protocol: 'the kernel does not add bytes to a stream; in mode nat with kernel.replies: route or in mode dr the backends see the client address',
  accept_proxy_protocol: 'the kernel does not parse streams',
  proxy_protocol_timeout: 'the kernel does not parse streams',
  max_flows: 'conntrack holds the flows (sysctl net.netfilter.nf_conntrack_max)',
  passive: 'the kernel reports no per-connection outcomes; use active health checks',
  sorry_server: 'not implemented in the kernel modes',
  persistence: 'the kernel modes have no persistence table; scheduler: sh keeps a client address on one backend',
};

/**
 * What is wrong with a parsed tcp/udp service for its kernel mode (none in mode
 * proxy), each with a path relative to the service. Pure.
 */
export function kernelProblems(svc: {
  protocol: 'tcp' | 'udp';
  mode: L4Mode;
  kernel?: KernelOptions | undefined;
  listen: readonly { host: string; port: number }[];
  scheduler: { name: string };
  on_down: string;
  backends: readonly { host: string; port: number; max_conns: number; max_fails?: number | undefined; fail_timeout?: number | undefined }[];
}): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const { mode } = svc;
  if (mode === 'proxy') {
    if (svc.kernel !== undefined) out.push({ path: ['kernel'], message: 'kernel applies only with mode: nat or dr' });
    return out;
  }
  const k = svc.kernel;
  if (mode === 'dr') {
    if (k?.interface === undefined) out.push({ path: ['kernel', 'interface'], message: "mode dr needs the director's interface on the real servers' segment, e.g. kernel: { interface: eth0 }" });
    if (k?.replies !== undefined) out.push({ path: ['kernel', 'replies'], message: 'replies is an option of mode nat; in mode dr the real servers always answer clients directly' });
  } else {
    if (k?.interface !== undefined) out.push({ path: ['kernel', 'interface'], message: 'interface is an option of mode dr; mode nat follows the routing table' });
    if (k?.macs !== undefined) out.push({ path: ['kernel', 'macs'], message: 'macs is an option of mode dr' });
  }
  if (!(KERNEL_SCHEDULERS as readonly string[]).includes(svc.scheduler.name)) {
    out.push({ path: ['scheduler'], message: `scheduler ${svc.scheduler.name} is not available in mode ${mode}; the kernel modes offer ${KERNEL_SCHEDULERS.join(', ')} (see docs/l4.md)` });
  }
  if (svc.on_down !== 'keep') out.push({ path: ['on_down'], message: `on_down: ${svc.on_down} is not available in mode ${mode}: the kernel keeps established connections of a backend taken out (drain)` });
  svc.listen.forEach((l, i) => {
    if (isIP(l.host) !== 4 || l.host === '0.0.0.0') out.push({ path: ['listen', i], message: `mode ${mode} needs the virtual address as one IPv4 address (such as 192.0.2.10:80), got ${l.host}:${l.port}` });
    else if (l.port === 0) out.push({ path: ['listen', i], message: `mode ${mode} needs a real port, not 0` });
  });
  svc.backends.forEach((b, i) => {
    if (isIP(b.host) !== 4) out.push({ path: ['backends', i], message: `mode ${mode} needs backends as IPv4 addresses, got ${b.host}` });
    if (b.max_conns !== 0) out.push({ path: ['backends', i, 'max_conns'], message: `max_conns is not available in mode ${mode}: the kernel does not count a backend's connections` });
    if (b.max_fails !== undefined || b.fail_timeout !== undefined) out.push({ path: ['backends', i, b.max_fails !== undefined ? 'max_fails' : 'fail_timeout'], message: `passive detection is not available in mode ${mode}; use active health checks` });
    if (mode === 'dr') {
      for (const l of svc.listen) {
        if (b.port !== l.port) {
          out.push({ path: ['backends', i], message: `mode dr cannot map ports (LVS -g): backend port ${b.port} differs from the service port ${l.port}; the real servers must listen on the VIP's port` });
          break;
        }
      }
    }
  });
  return out;
}

/** Options of `protocol: tcp` services (besides the shared ones). */
export const tcpOptions = {
  protocol: z.literal('tcp'),
  /** `proxy` (default): relayed by this process. `nat`: kernel DNAT through nftables (LVS -m). `dr`: kernel direct routing (LVS -g). docs/l4.md. */
  mode: modeOption,
  /** Settings of mode nat / dr; refused in mode proxy. */
  kernel: kernelSchema.optional(),
  /** Connecting to a backend, in ms; on timeout the next backend is tried (nothing was sent yet). Default 5s. */
  connect_timeout: duration(5_000),
  /** Connection attempts per client connection, the first included, each to another backend; 0 = one per usable backend. Default 0. */
  connect_tries: z.number({ error: 'expected a number of tries (0 = one per usable backend)' }).int().min(0).max(100).default(0),
  /** A connection with no byte moving either way for this long is closed, in ms (LVS `--set tcp`, HAProxy `timeout client/server`). Default 900s, as LVS. */
  idle_timeout: duration(900_000),
  /** After one side has sent FIN, the other direction is closed if idle this long, in ms (LVS `tcpfin`, HAProxy `timeout client-fin`). Default 120s. */
  half_close_timeout: duration(120_000),
  /** Send a PROXY protocol header (HAProxy's spec) before the client's first byte to every backend: `v1` (text) or `v2` (binary). Absent = none. */
  proxy_protocol: z.enum(['v1', 'v2']).optional(),
  /**
   * Trusted fronts (addresses or CIDR networks) whose connections must start with a
   * PROXY protocol header, v1 or v2; the client address it carries replaces the
   * peer's (for scheduling, persistence and our own header to backends). A missing
   * or malformed header closes the connection. Connections from other sources are
   * taken as direct clients. Absent = no header is accepted from anyone.
   */
  accept_proxy_protocol: z.array(cidr).min(1, 'expected at least one trusted address or network').optional(),
  /** How long a trusted front has to send its PROXY header, in ms. Default 5s. */
  proxy_protocol_timeout: duration(5_000),
};

/** Options of `protocol: udp` services (besides the shared ones). */
export const udpOptions = {
  protocol: z.literal('udp'),
  /** `proxy` (default), `nat` or `dr`, as for tcp services. */
  mode: modeOption,
  /** Settings of mode nat / dr; refused in mode proxy. */
  kernel: kernelSchema.optional(),
  /** A flow (client address:port ↔ one upstream socket) with no datagram either way for this long ends, in ms (LVS `--set udp`). Default 300s, as LVS. */
  idle_timeout: duration(300_000),
  /** Most flows at once; beyond, the least recently used flow is closed (and counted). Default 65536. */
  max_flows: z.number({ error: 'expected a number of flows from 1 to 1000000' }).int().min(1).max(1_000_000).default(65_536),
};

const L4_KEYS = new Set([...Object.keys(L4_SHARED), ...Object.keys(tcpOptions), ...Object.keys(udpOptions)]);
const TCP_KEYS = new Set([...Object.keys(L4_SHARED), ...Object.keys(tcpOptions)]);
const UDP_KEYS = new Set([...Object.keys(L4_SHARED), ...Object.keys(udpOptions)]);

/** Parses `v` with `schema`, passing every issue on to `ctx` (paths relative to the value). */
function parseInto(schema: z.ZodType, v: unknown, ctx: z.core.$RefinementCtx): unknown {
  const r = schema.safeParse(v);
  if (r.success) return r.data;
  for (const issue of r.error.issues) ctx.addIssue({ ...issue } as z.core.$ZodRawIssue);
  return z.NEVER;
}

type Keyed = z.ZodType & { readonly shape: Record<string, unknown> };

/**
 * Services as a union on `protocol` (http when absent). An option of the wrong kind
 * of service is refused by name ("retry is an option of http services ...") rather
 * than as a bare unknown key; truly unknown keys still get the strict-object error.
 */
export function serviceByProtocol<H extends Keyed, T extends Keyed, U extends Keyed>(http: H, tcp: T, udp: U) {
  const httpKeys = new Set(Object.keys(http.shape));
  const union = z.discriminatedUnion('protocol', [http as unknown as z.ZodObject, tcp as unknown as z.ZodObject, udp as unknown as z.ZodObject], {
    error: 'expected protocol: http, tcp or udp',
  });
  // A transform that runs the union itself, so that both the wrong-kind options and
  // the union's own problems are reported in one pass (a preprocess step would stop at the first).
  return z.unknown().transform((v, ctx) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return parseInto(union, v, ctx);
    const obj = v as Record<string, unknown>;
    const protocol = obj.protocol ?? 'http';
    if (protocol !== 'http' && protocol !== 'tcp' && protocol !== 'udp') return parseInto(union, v, ctx);
    const own = protocol === 'http' ? httpKeys : protocol === 'tcp' ? TCP_KEYS : UDP_KEYS;
    let out: Record<string, unknown> | undefined;
    const kernelMode = protocol !== 'http' && (obj.mode === 'nat' || obj.mode === 'dr') ? obj.mode : undefined;
    for (const key of Object.keys(obj)) {
      if (kernelMode !== undefined && own.has(key) && KERNEL_REFUSED[key] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [key], message: `${key} does not apply in mode: ${kernelMode} (${KERNEL_REFUSED[key]}); see docs/l4.md` });
        out ??= { ...obj };
        delete out[key];
        continue;
      }
      if (own.has(key)) continue;
      let message: string | undefined;
      if (protocol === 'http' && L4_KEYS.has(key)) message = `${key} is an option of tcp/udp services, not of this http service (write protocol: tcp or udp, or see docs/cluster-file.md for the http equivalent)`;
      else if (protocol !== 'http' && httpKeys.has(key)) message = `${key} is an option of http services; a ${protocol} service does not take it (see docs/l4.md)`;
      else if (protocol === 'udp' && TCP_KEYS.has(key)) message = `${key} is an option of tcp services; a udp service does not take it (see docs/l4.md)`;
      if (message === undefined) continue; // left to the strict object: unknown key
      ctx.addIssue({ code: 'custom', path: [key], message });
      out ??= { ...obj };
      delete out[key];
    }
    const parsed = parseInto(union, out ?? v, ctx);
    if (parsed !== z.NEVER && protocol !== 'http') {
      for (const p of kernelProblems(parsed as Parameters<typeof kernelProblems>[0])) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
    }
    return parsed;
  }) as unknown as z.ZodType<z.output<H> | z.output<T> | z.output<U>, z.input<H> | z.input<T> | z.input<U>>;
}
