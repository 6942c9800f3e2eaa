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

/** Options of `protocol: tcp` services (besides the shared ones). */
export const tcpOptions = {
  protocol: z.literal('tcp'),
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
    for (const key of Object.keys(obj)) {
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
    return parseInto(union, out ?? v, ctx);
  }) as unknown as z.ZodType<z.output<H> | z.output<T> | z.output<U>, z.input<H> | z.input<T> | z.input<U>>;
}
