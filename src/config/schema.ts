/**
 * The cluster file's schema. Every default lives here; unknown keys are errors.
 *
 * Units: durations are written `500ms`, `5s`, `2m`, `1h` (a bare number is seconds)
 * and come out in milliseconds; sizes are written `512`, `16k`, `1m` (binary units)
 * and come out in bytes. docs/cluster-file.md documents every option.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { duration, durationValue, size } from './units.ts';
import { vrrpSchema } from './ha-schema.ts';
import { firewallProblems, firewallSchema } from './firewall-schema.ts';
import { backendHealthOverrideSchema, healthOverrideProblems, healthSchema, outlierSchema } from './health-schema.ts';
import { persistenceSchema, schedulerSchema, stickySchema } from './scheduler-schema.ts';
import { limitsSchema } from './limits-schema.ts';
import { monitorNodeProblems, monitorSchema } from './monitor-schema.ts';
import { agentProblems, agentSchema } from './agent-schema.ts';
import { L4_SHARED, serviceByProtocol, tcpOptions, udpOptions } from './l4-schema.ts';
import { webSchema } from './web-schema.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const nameSchema = z.string().regex(NAME, 'expected a name of letters, digits, "_", "." or "-" (at most 63)');

const port = z.number({ error: 'expected a port number (1-65535)' }).int().min(1, 'expected a port number (1-65535)').max(65535, 'expected a port number (1-65535)');

function isHostname(s: string): boolean {
  return /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(s);
}

export interface HostPort {
  host: string;
  port: number | undefined;
}

/** Splits `host:port`, `[v6]:port`, `v6`, `host` or `:port`. */
export function splitHostPort(s: string): HostPort | undefined {
  const t = s.trim();
  let host: string;
  let portText: string | undefined;
  if (t.startsWith('[')) {
    const end = t.indexOf(']');
    if (end < 0) return undefined;
    host = t.slice(1, end);
    const rest = t.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':')) return undefined;
    portText = rest === '' ? undefined : rest.slice(1);
    if (isIP(host) !== 6) return undefined;
  } else if (isIP(t) === 6) {
    host = t;
  } else {
    const i = t.lastIndexOf(':');
    host = i < 0 ? t : t.slice(0, i);
    portText = i < 0 ? undefined : t.slice(i + 1);
  }
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) return undefined;
    const p = Number(portText);
    if (p > 65535) return undefined;
    return { host, port: p };
  }
  return { host, port: undefined };
}

const listenAddress = z
  .union([z.string(), z.number()], { error: 'expected a listen address such as 0.0.0.0:80, [::]:443 or 8080' })
  .transform((v, ctx) => {
    const text = String(v);
    const hp = /^\d+$/.test(text) ? { host: '', port: Number(text) } : splitHostPort(text.startsWith(':') ? `0.0.0.0${text}` : text);
    if (!hp || hp.port === undefined || hp.port < 0 || hp.port > 65535 || (hp.host !== '' && isIP(hp.host) === 0 && hp.host !== 'localhost')) {
      ctx.addIssue({ code: 'custom', message: `expected a listen address such as 0.0.0.0:80, [::]:443 or 8080, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return { host: hp.host === '' ? '0.0.0.0' : hp.host, port: hp.port };
  });

export type ListenAddress = z.output<typeof listenAddress>;

const backendObject = z.strictObject({
  /** Host name or IP address, optionally with `:port`. */
  address: z.string({ error: 'expected a host or host:port' }),
  /** Port; required unless `address` carries one. */
  port: port.optional(),
  /** Display name; default `host:port`. */
  name: nameSchema.optional(),
  /** Relative weight; 0 takes no new connections. Default 1. */
  weight: z.number({ error: 'expected a weight (integer 0-1000)' }).int().min(0).max(1000).default(1),
  /** Used only when no primary backend is usable (nginx `backup`). Default false. */
  backup: z.boolean().default(false),
  /** Permanently marked unavailable (nginx `down`). Default false. */
  down: z.boolean().default(false),
  /** Failed attempts within `fail_timeout` that mark it unavailable; default: the service's `passive.max_fails`. */
  max_fails: z.number().int().min(0).optional(),
  /** Window for `max_fails` and how long it stays unavailable; default: the service's `passive.fail_timeout`. */
  fail_timeout: durationValue().optional(),
  /** Maximum concurrent requests to it; 0 = unlimited. Default 0. */
  max_conns: z.number().int().min(0).default(0),
  /** Overrides of the service's health check for this backend, or `{ enabled: false }`. See docs/health.md. */
  health: backendHealthOverrideSchema.optional(),
});

const backendSchema = z
  .union([z.string(), backendObject], { error: 'expected a backend: "host:port" or { address, port, weight, ... }' })
  .transform((v, ctx) => {
    const obj = typeof v === 'string' ? backendObject.parse({ address: v }) : v;
    const hp = splitHostPort(obj.address);
    if (!hp || hp.host === '' || (isIP(hp.host) === 0 && !isHostname(hp.host))) {
      ctx.addIssue({ code: 'custom', message: `expected a host or host:port, got ${JSON.stringify(obj.address)}`, path: typeof v === 'string' ? [] : ['address'] });
      return z.NEVER;
    }
    if (hp.port !== undefined && obj.port !== undefined && hp.port !== obj.port) {
      ctx.addIssue({ code: 'custom', message: `port ${obj.port} contradicts the port in address ${JSON.stringify(obj.address)}`, path: ['port'] });
      return z.NEVER;
    }
    const p = obj.port ?? hp.port;
    if (p === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected a port: write address: host:port or port: N', path: typeof v === 'string' ? [] : ['port'] });
      return z.NEVER;
    }
    const id = isIP(hp.host) === 6 ? `[${hp.host}]:${p}` : `${hp.host}:${p}`;
    return { ...obj, host: hp.host, port: p, id, name: obj.name ?? id };
  });

export type BackendConfig = z.output<typeof backendSchema>;

const NEXT_UPSTREAM = ['error', 'timeout', 'invalid_header', 'http_500', 'http_502', 'http_503', 'http_504', 'http_403', 'http_404', 'http_429'] as const;

const timeoutsSchema = z
  .strictObject({
    /** Connecting to a backend (nginx `proxy_connect_timeout`). */
    connect: duration(5_000),
    /** Reading a client's request head (nginx `client_header_timeout`). */
    client_header: duration(20_000),
    /** Between two reads of a client's request body (nginx `client_body_timeout`). */
    client_body: duration(60_000),
    /** A client's idle keep-alive connection (nginx `keepalive_timeout`). */
    keepalive: duration(75_000),
    /** Waiting for a backend's response head after the request went out. */
    upstream_header: duration(60_000),
    /** Between two reads of a backend's response body (nginx `proxy_read_timeout`). */
    upstream_read: duration(60_000),
    /** Between two successful writes to a client or backend that is not reading (nginx `send_timeout`). */
    send: duration(60_000),
    /** An idle WebSocket / Upgrade tunnel (nginx: `proxy_read_timeout` on the tunnel). */
    tunnel: duration(3_600_000),
  })
  .prefault({});

const retrySchema = z
  .strictObject({
    /** Attempts in all, including the first; 0 = one per usable backend (nginx `proxy_next_upstream_tries`). */
    tries: z.number().int().min(0).default(0),
    /** Time limit for all attempts together; 0 = none (nginx `proxy_next_upstream_timeout`). */
    timeout: duration(0),
    /** Failures that pass the request to the next backend (nginx `proxy_next_upstream`); `[]` = never. */
    on: z.array(z.enum(NEXT_UPSTREAM)).default(['error', 'timeout']),
    /** Also retry POST, PATCH, LOCK and other non-idempotent requests after they were sent (nginx `non_idempotent`). */
    non_idempotent: z.boolean().default(false),
    /** Request-body bytes kept in memory so that the body can be re-sent to the next backend; a longer body is not retried once sent. */
    body_buffer: size(64 * 1024),
  })
  .prefault({});

const upstreamKeepaliveSchema = z
  .strictObject({
    /** Idle connections kept open per backend (nginx `keepalive`); 0 = close after each response. */
    max_idle: z.number().int().min(0).default(64),
    /** How long an idle connection is kept; shorter than the backends' own keep-alive timeout. */
    idle_timeout: duration(4_000),
    /** Requests over one connection before it is closed (nginx `keepalive_requests`); 0 = no limit. */
    max_requests: z.number().int().min(0).default(1000),
  })
  .prefault({});

const clientSchema = z
  .strictObject({
    /** Largest request head (request line + headers) accepted; larger gets 431. */
    max_header_size: size(32 * 1024),
    /** Most request header fields accepted; more gets 431. */
    max_headers: z.number().int().min(1).max(1000).default(100),
    /** Largest request body; larger gets 413. 0 = no limit (nginx `client_max_body_size`). */
    max_body_size: size(0),
    /** Requests over one client connection before it is closed (nginx `keepalive_requests`); 0 = no limit. */
    keepalive_requests: z.number().int().min(0).default(1000),
  })
  .prefault({});

const queueSchema = z
  .strictObject({
    /** Requests that may wait for a free slot when every usable backend is at its `max_conns` (HAProxy `maxqueue`); 0 = none wait. */
    max_length: z.number().int().min(0).default(1024),
    /** How long a request may wait in the queue before it gets 503 (HAProxy `timeout queue`). */
    timeout: duration(5_000),
  })
  .prefault({});

const headersSchema = z
  .strictObject({
    /** Add `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host`. Default true. */
    x_forwarded: z.boolean().default(true),
    /** Add an RFC 7239 `Forwarded` header. Default false. */
    forwarded: z.boolean().default(false),
    /** Add `Via: 1.1 <pseudonym>` to requests and responses; empty = no Via header. Never carries a version. */
    via: z.string().regex(/^[A-Za-z0-9._-]*$/, 'expected a pseudonym of letters, digits, ".", "_" or "-"').default(''),
  })
  .prefault({});

const serviceSchema = z.strictObject({
  /** `http` (default), or `tcp` / `udp` for a layer-4 service (src/config/l4-schema.ts, docs/l4.md). */
  protocol: z.literal('http', { error: 'expected protocol: http' }).default('http'),
  /** Address(es) to listen on: `0.0.0.0:80`, `[::]:80`, `127.0.0.1:8080`, or a bare port (all IPv4 addresses). Port 0 takes any free port (tests). */
  listen: z.union([listenAddress, z.array(listenAddress).min(1)]).transform((v) => (Array.isArray(v) ? v : [v])),
  /** Nodes that run this service; default every node with the `director` role. */
  nodes: z.array(nameSchema).optional(),
  scheduler: schedulerSchema,
  /** The servers that answer; at least one. */
  backends: z.array(backendSchema).min(1, 'expected at least one backend'),
  timeouts: timeoutsSchema,
  retry: retrySchema,
  /** Active health checks (keepalived checkers); absent = none, every backend counts as up. See docs/health.md. */
  health: healthSchema.optional(),
  /** Passive detection from live traffic (nginx max_fails, Envoy outlier detection, panic). See docs/health.md. */
  passive: outlierSchema,
  /** When a backend goes down or into maintenance: `keep` lets its open connections finish; `shutdown-sessions` closes them (HAProxy `on-marked-down shutdown-sessions`). Default keep. */
  on_down: z.enum(['keep', 'shutdown-sessions']).default('keep'),
  /** While the service's quorum is lost (health.quorum), send every request here instead (keepalived `sorry_server`), `host:port`; absent = the error page with 503. */
  sorry_server: z.string().optional(),
  keepalive: upstreamKeepaliveSchema,
  client: clientSchema,
  headers: headersSchema,
  /** Source-IP persistence (ipvsadm `-p`, keepalived `persistence_timeout`); absent = none. See docs/schedulers.md. */
  persistence: persistenceSchema.optional(),
  /** Cookie persistence (HAProxy `cookie ... insert`, nginx `sticky cookie`); absent = none. See docs/schedulers.md. */
  sticky: stickySchema.optional(),
  queue: queueSchema,
  /** Per-client limits: limit_conn, limit_req, limit_rate, allow / deny, real_ip_from; none by default. See docs/limits.md. */
  limits: limitsSchema,
  /** HTML file (relative to the cluster file) served with 502/503/504 when no backend can answer; default a plain built-in page. */
  error_page: z.string().min(1).optional(),
});

export type ServiceConfig = z.output<typeof serviceSchema>;

/** Layer-4 services: the shared options of an http service plus their own (l4-schema.ts). */
const tcpServiceSchema = serviceSchema.pick(L4_SHARED).extend(tcpOptions);
const udpServiceSchema = serviceSchema.pick(L4_SHARED).extend(udpOptions);
export type TcpServiceConfig = z.output<typeof tcpServiceSchema>;
export type UdpServiceConfig = z.output<typeof udpServiceSchema>;
/** Any service of the cluster file, told apart by `protocol`. */
export type AnyServiceConfig = ServiceConfig | TcpServiceConfig | UdpServiceConfig;

const ROLES = ['director', 'agent'] as const;

const nodeSchema = z.strictObject({
  /** The node's address; used to recognise which node this host is. */
  address: z.string().refine((s) => isIP(s) !== 0, 'expected an IPv4 or IPv6 address'),
  /** What this node does: `director` runs the services' load balancers, `agent` the monitor's checks for it (docs/agent.md). Default [director]. */
  roles: z.array(z.enum(ROLES)).default(['director']),
  /** Proxy worker processes on this node: a number, or `auto` (one per core). Default 1. */
  workers: z.union([z.number().int().min(1).max(256), z.literal('auto')]).default(1),
});

export type NodeConfig = z.output<typeof nodeSchema>;

const logSchema = z
  .strictObject({
    /** Minimum level: trace, debug, info, warn, error, fatal, silent. Default info. */
    level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    /** `json`, `pretty`, or `auto` (pretty on a terminal). Default auto. */
    format: z.enum(['json', 'pretty', 'auto']).default('auto'),
    /** Write one access-log line per request. Default true. */
    access: z.boolean().default(true),
  })
  .prefault({});

export const clusterSchema = z
  .strictObject({
    cluster: z.strictObject({ name: nameSchema.default('palisade') }).prefault({}),
    /** Directory for the control socket and pid file; default /run/palisade as root, else $XDG_RUNTIME_DIR/palisade or /tmp/palisade-$UID. */
    runtime_dir: z.string().min(1).optional(),
    log: logSchema,
    nodes: z.record(nameSchema, nodeSchema).default({}),
    services: z.record(nameSchema, serviceByProtocol(serviceSchema, tcpServiceSchema, udpServiceSchema)).default({}),
    /** Virtual IP failover between directors (keepalived `vrrp_instance`); see docs/vrrp.md. */
    vrrp: vrrpSchema.prefault({}),
    /** The nodes' nftables firewall; absent = none managed. See docs/firewall.md. */
    firewall: firewallSchema.optional(),
    /** Monitoring (the Nagios job): hosts, services, contacts, notifications, history; absent = none. See docs/monitoring.md. */
    monitor: monitorSchema.optional(),
    /** The dashboard and admin API; absent = none. See docs/dashboard.md. */
    web: webSchema.optional(),
    /** Monitor ↔ agent transport (HTTPS, per-cluster token); needed when checks run on agents. See docs/agent.md. */
    agent: agentSchema.optional(),
  })
  .superRefine((cfg, ctx) => {
    for (const p of monitorNodeProblems(cfg.monitor, Object.keys(cfg.nodes))) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
    for (const p of agentProblems(cfg.agent, cfg.monitor?.hosts, cfg.nodes)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
    for (const p of firewallProblems(cfg.firewall, Object.keys(cfg.nodes))) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
    if (cfg.web?.node !== undefined && !(cfg.web.node in cfg.nodes)) ctx.addIssue({ code: 'custom', path: ['web', 'node'], message: `unknown node ${JSON.stringify(cfg.web.node)}; declared nodes: ${Object.keys(cfg.nodes).join(', ') || 'none'}` });
    for (const [name, inst] of Object.entries(cfg.vrrp.instances)) {
      for (const member of Object.keys(inst.members)) {
        if (!(member in cfg.nodes)) ctx.addIssue({ code: 'custom', path: ['vrrp', 'instances', name, 'members', member], message: `unknown node ${JSON.stringify(member)}; declared nodes: ${Object.keys(cfg.nodes).join(', ') || 'none'}` });
      }
    }
    const seen = new Map<string, { name: string; nodes: string[] | undefined }[]>();
    for (const [name, svc] of Object.entries(cfg.services)) {
      svc.nodes?.forEach((n, i) => {
        if (!(n in cfg.nodes)) ctx.addIssue({ code: 'custom', path: ['services', name, 'nodes', i], message: `unknown node ${JSON.stringify(n)}; declared nodes: ${Object.keys(cfg.nodes).join(', ') || 'none'}` });
      });
      const ids = new Map<string, number>();
      svc.backends.forEach((b, i) => {
        if (b.health !== undefined) {
          for (const p of healthOverrideProblems(svc.health, b.health)) ctx.addIssue({ code: 'custom', path: ['services', name, 'backends', i, 'health', ...p.path], message: p.message });
        }
        const prev = ids.get(b.id);
        if (prev !== undefined) ctx.addIssue({ code: 'custom', path: ['services', name, 'backends', i], message: `backend ${b.id} is listed twice (also backends[${prev}])` });
        else ids.set(b.id, i);
      });
      if (svc.sorry_server !== undefined) {
        const hp = splitHostPort(svc.sorry_server);
        if (!hp || hp.host === '' || hp.port === undefined) ctx.addIssue({ code: 'custom', path: ['services', name, 'sorry_server'], message: `expected host:port, got ${JSON.stringify(svc.sorry_server)}` });
      }
      // Two services may share a listen address on different nodes (each director its own backends).
      svc.listen.forEach((l, i) => {
        const key = `${svc.protocol === 'udp' ? 'udp ' : ''}${l.host}:${l.port}`;
        for (const other of seen.get(key) ?? []) {
          if (other.name === name) continue;
          const both = svc.nodes === undefined || other.nodes === undefined ? undefined : svc.nodes.filter((n) => other.nodes!.includes(n));
          if (both === undefined || both.length > 0) {
            ctx.addIssue({ code: 'custom', path: ['services', name, 'listen', i], message: `${key} is already the listen address of service ${other.name}${both === undefined ? '' : ` on node ${both[0]}`}` });
            break;
          }
        }
        seen.set(key, [...(seen.get(key) ?? []), { name, nodes: svc.nodes }]);
      });
    }
  });

export type ClusterConfig = z.output<typeof clusterSchema>;
