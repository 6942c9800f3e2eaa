/**
 * Health options of a service (`health:`, active checks), of one backend (an
 * override of the service's check) and of passive outlier detection (`passive:`).
 * Every default lives here; docs/health.md documents each option with its
 * keepalived / HAProxy / nginx / Envoy equivalent.
 *
 * Units: durations are written `500ms`, `2s`, `1m` (a bare number is seconds) and
 * come out in milliseconds; sizes are written `512`, `16k` and come out in bytes.
 *
 * This file must not import `schema.ts` (which imports it).
 */
import { z } from 'zod';
import { parseDuration } from '../core/units.ts';
import { durationAtLeast, durationValue, regexString, sizeValue } from './units.ts';

const PORT_MSG = 'expected a port number (1-65535)';
const portSchema = z.number({ error: PORT_MSG }).int(PORT_MSG).min(1, PORT_MSG).max(65535, PORT_MSG);

// ---------------------------------------------------------------------------
// HTTP status ranges

/** Inclusive ranges of HTTP status codes, e.g. `[[200, 299], [301, 302]]`. */
export type StatusRanges = ReadonlyArray<readonly [number, number]>;

/**
 * Parses expected HTTP statuses: `200`, `"200-299"`, `"2xx"`, `"200,301-302"`, or an
 * array of those. Returns the ranges, or a message saying what is wrong.
 */
export function parseStatusRanges(spec: number | string | ReadonlyArray<number | string>): StatusRanges | string {
  const items = Array.isArray(spec) ? spec : [spec];
  if (items.length === 0) return 'expected at least one status code or range';
  const out: Array<readonly [number, number]> = [];
  for (const item of items as ReadonlyArray<number | string>) {
    const words = typeof item === 'number' ? [String(item)] : item.split(/[\s,]+/).filter((w) => w !== '');
    if (words.length === 0) return `expected a status code or range such as 200, 200-299 or 2xx, got ${JSON.stringify(item)}`;
    for (const w of words) {
      let range: [number, number] | undefined;
      let m: RegExpExecArray | null;
      if ((m = /^([1-5])xx$/i.exec(w))) range = [Number(m[1]) * 100, Number(m[1]) * 100 + 99];
      else if ((m = /^(\d{3})$/.exec(w))) range = [Number(m[1]), Number(m[1])];
      else if ((m = /^(\d{3})\s*-\s*(\d{3})$/.exec(w))) range = [Number(m[1]), Number(m[2])];
      if (!range) return `expected a status code or range such as 200, 200-299 or 2xx, got ${JSON.stringify(w)}`;
      const [lo, hi] = range;
      if (lo < 100 || hi > 599) return `status ${w} is outside 100-599`;
      if (lo > hi) return `status range ${w} is backwards`;
      out.push(range);
    }
  }
  return out;
}

const statusRangesSchema = z
  .union([z.number(), z.string(), z.array(z.union([z.number(), z.string()]))], { error: 'expected status codes such as [200-299] or [200, 301-302]' })
  .transform((v, ctx) => {
    const r = parseStatusRanges(v);
    if (typeof r === 'string') {
      ctx.addIssue({ code: 'custom', message: r });
      return z.NEVER;
    }
    return r;
  });

// ---------------------------------------------------------------------------
// Jitter

/** Random spread of check times: a fraction of the interval, or a fixed duration. */
export type Jitter = { readonly kind: 'fraction'; readonly value: number } | { readonly kind: 'ms'; readonly value: number };

const JITTER_MSG = 'expected a fraction of the interval (0 to 1, or a percentage such as 10%) or a duration such as 200ms';

const jitterSchema = z.union([z.number(), z.string()], { error: JITTER_MSG }).transform((v, ctx): Jitter => {
  if (typeof v === 'number') {
    if (Number.isFinite(v) && v >= 0 && v <= 1) return { kind: 'fraction', value: v };
    ctx.addIssue({ code: 'custom', message: `${JITTER_MSG}, got ${v} (a bare number is a fraction; write ${v}s for seconds)` });
    return z.NEVER;
  }
  const pct = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(v);
  if (pct) {
    const f = Number(pct[1]) / 100;
    if (f <= 1) return { kind: 'fraction', value: f };
  } else {
    const ms = parseDuration(v);
    if (ms !== undefined) return { kind: 'ms', value: ms };
  }
  ctx.addIssue({ code: 'custom', message: `${JITTER_MSG}, got ${JSON.stringify(v)}` });
  return z.NEVER;
});

// ---------------------------------------------------------------------------
// Active checks

/** Check types: see docs/health.md. */
export const CHECK_TYPES = ['http', 'https', 'tcp', 'exec', 'agent'] as const;
export type CheckType = (typeof CHECK_TYPES)[number];

/** The check type used when `type` is left out: a plain TCP connect (HAProxy's bare `check`). */
export const DEFAULT_CHECK_TYPE: CheckType = 'tcp';

/**
 * Options every check has. `fast_interval` and `down_interval` stay undefined when
 * not written; they then mean `interval`.
 */
const commonShape = {
  /** Address to check instead of the backend's host (HAProxy `addr`, keepalived `connect_ip`). Default: the backend's host. */
  address: z.string().min(1, 'expected a host or IP address').optional(),
  /** Port to check instead of the backend's port (HAProxy `port`, keepalived `connect_port`). Default: the backend's port; required for `agent`. */
  port: portSchema.optional(),
  /** Time between two checks, in ms after parsing; at least 10ms. Default 2s (HAProxy `inter`, keepalived `delay_loop`). */
  interval: durationAtLeast(10).default(2_000),
  /** Time between checks while a state is changing (after the first opposite result, before the flip), in ms. Default: `interval` (HAProxy `fastinter`). */
  fast_interval: durationAtLeast(10).optional(),
  /** Time between checks while the backend is down, in ms. Default: `interval` (HAProxy `downinter`). */
  down_interval: durationAtLeast(10).optional(),
  /** Time limit of one check, in ms; at least 1ms. Default 1s (HAProxy `timeout check`, keepalived `connect_timeout`). */
  timeout: durationAtLeast(1).default(1_000),
  /** Consecutive successes that bring a down backend up (count, 1-100). Default 2 (HAProxy `rise`). */
  rise: z.number().int().min(1).max(100).default(2),
  /** Consecutive failures that take an up backend down (count, 1-100). Default 3 (HAProxy `fall`, keepalived `retry`). */
  fall: z.number().int().min(1).max(100).default(3),
  /**
   * Random spread of check times so that many backends are not checked together:
   * a fraction of the interval (`0.1`, `10%`) or a duration (`200ms`). Each interval
   * is varied by ± the spread, and the first check waits a random time within it.
   * Default 0.1 (HAProxy `spread-checks`).
   */
  jitter: jitterSchema.default({ kind: 'fraction', value: 0.1 }),
  /**
   * State before the first check. `up`: usable at once, and the first failed check
   * takes it down without waiting for `fall` (HAProxy's default `init-state up`).
   * `down`: unusable until `rise` checks passed (keepalived `alpha`, HAProxy
   * `init-state fully-down`). Default `up`.
   */
  start: z.enum(['up', 'down']).default('up'),
  /** After coming up, the weight ramps linearly from 10% to full over this time, in ms; 0 = off. Default 0 (nginx `slow_start`, HAProxy `slowstart`). */
  slow_start: durationValue().default(0),
};

/** Service-level options: they apply to the service's backends together. */
const serviceShape = {
  /**
   * The service is "up" while the weights of its up backends add up to at least this
   * (keepalived `quorum`). Weight sum, integer ≥ 0. Default 1.
   */
  quorum: z.number().int().min(0).default(1),
  /**
   * Quorum is lost below `quorum - quorum_hysteresis` and regained at
   * `quorum + quorum_hysteresis` (keepalived `hysteresis`). Weight, integer ≥ 0. Default 0.
   */
  quorum_hysteresis: z.number().int().min(0).default(0),
};

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'OPTIONS'] as const;

const httpShape = {
  /** Request method. Default GET (HAProxy `option httpchk`). */
  method: z.enum(HTTP_METHODS).default('GET'),
  /** Request target; must start with `/`. Default `/` (keepalived `url { path }`). */
  path: z.string().startsWith('/', 'expected a path starting with "/"').default('/'),
  /** Host header. Default: the backend's host (with `:port` unless it is 80/443) (keepalived `virtualhost`). */
  host: z.string().min(1).optional(),
  /** Extra request headers. Default none. */
  headers: z
    .record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'expected a header name'), z.string())
    .refine((h) => !Object.keys(h).some((k) => k.toLowerCase() === 'host'), 'write the Host header as `host:`')
    .default({}),
  /** Statuses that pass: codes, ranges `200-299` or classes `2xx`. Default [200-299] (keepalived `status_code`, HAProxy `http-check expect status`). */
  expect_status: statusRangesSchema.default([[200, 299]]),
  /** Regular expression (JavaScript syntax) the body must match, read up to `max_body`. Default none (HAProxy `http-check expect rstring`). */
  expect_body: regexString().optional(),
  /** MD5 of the body as 32 hex digits (keepalived HTTP_GET `digest`); the body is read up to `max_body`. Default none. */
  digest: z
    .string()
    .regex(/^[0-9a-fA-F]{32}$/, 'expected an MD5 digest: 32 hex digits')
    .transform((s) => s.toLowerCase())
    .optional(),
  /** Most body bytes read for `expect_body` / `digest`; a longer body fails the check. Bytes, at most 1m. Default 64k. */
  max_body: sizeValue()
    .refine((n) => n >= 1 && n <= 1024 * 1024, 'expected a size between 1 and 1m')
    .default(64 * 1024),
};

const tlsShape = {
  /** TLS server name (SNI). Default: the Host header's name, unless it is an IP address (HAProxy `check-sni`). */
  sni: z.string().min(1).optional(),
  /** Verify the backend's certificate against the system CAs. Default false: a check sends no secret (keepalived SSL_GET, HAProxy `verify none`). */
  verify: z.boolean().default(false),
};

const HEX_MSG = 'expected hex bytes such as "0d0a" (spaces allowed)';
const hexSchema = z
  .string()
  .transform((s) => s.replace(/\s+/g, ''))
  .refine((s) => /^([0-9a-fA-F]{2})+$/.test(s), HEX_MSG);

const tcpShape = {
  /** Text sent after connecting (HAProxy `tcp-check send`). Default none. */
  send: z.string().min(1).optional(),
  /** Bytes sent after connecting, as hex (HAProxy `tcp-check send-binary`). Default none. */
  send_hex: hexSchema.optional(),
  /** Text the reply must contain, read up to 64 KiB (HAProxy `tcp-check expect string`). Default none: connecting is enough. */
  expect: z.string().min(1).optional(),
  /** Bytes the reply must contain, as hex (HAProxy `tcp-check expect binary`). Default none. */
  expect_hex: hexSchema.optional(),
};

const execShape = {
  /**
   * Program and arguments, run directly, never through a shell (keepalived MISC_CHECK
   * `misc_path`). Exit 0 = up. The environment holds only PATH and PALISADE_* variables.
   */
  command: z.array(z.string().min(1), { error: 'expected an argument array such as [/usr/local/bin/check, --port, "80"] (it never runs through a shell)' }).min(1, 'expected at least the program'),
  /** The exit code sets the weight: 0 up, 1 down, 2-255 up with weight = code − 2 (keepalived `misc_dynamic`). Default false. */
  dynamic: z.boolean().default(false),
};

const agentShape = {
  /** Port of the agent on the backend; required (HAProxy `agent-port`). */
  port: portSchema,
  /** Text sent to the agent after connecting, e.g. "status\n" (HAProxy `agent-send`). Default none. */
  send: z.string().min(1).optional(),
};

function refineTcp(v: { send?: string | undefined; send_hex?: string | undefined; expect?: string | undefined; expect_hex?: string | undefined }, ctx: z.RefinementCtx): void {
  if (v.send !== undefined && v.send_hex !== undefined) ctx.addIssue({ code: 'custom', path: ['send_hex'], message: 'write either send or send_hex, not both' });
  if (v.expect !== undefined && v.expect_hex !== undefined) ctx.addIssue({ code: 'custom', path: ['expect_hex'], message: 'write either expect or expect_hex, not both' });
}

const httpCheck = z.strictObject({ type: z.literal('http'), ...commonShape, ...serviceShape, ...httpShape });
const httpsCheck = z.strictObject({ type: z.literal('https'), ...commonShape, ...serviceShape, ...httpShape, ...tlsShape });
const tcpCheck = z.strictObject({ type: z.literal('tcp'), ...commonShape, ...serviceShape, ...tcpShape }).superRefine(refineTcp);
const execCheck = z.strictObject({ type: z.literal('exec'), ...commonShape, ...serviceShape, ...execShape });
const agentCheck = z.strictObject({ type: z.literal('agent'), ...commonShape, ...serviceShape, ...agentShape });

function withDefaultType(v: unknown): unknown {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !('type' in v) ? { type: DEFAULT_CHECK_TYPE, ...v } : v;
}

/**
 * `health:` of a service: the active check of its backends, with service-level
 * options (`quorum`). `type` defaults to `tcp`. Leaving `health:` out means no
 * active checks (backends count as up; passive detection still applies).
 */
export const healthSchema = z.preprocess(
  withDefaultType,
  z.discriminatedUnion('type', [httpCheck, httpsCheck, tcpCheck, execCheck, agentCheck], {
    error: `expected type: ${CHECK_TYPES.join(', ')}`,
  }),
);

export type HealthConfig = z.output<typeof healthSchema>;
export type HttpHealthConfig = Extract<HealthConfig, { type: 'http' }>;
export type HttpsHealthConfig = Extract<HealthConfig, { type: 'https' }>;
export type TcpHealthConfig = Extract<HealthConfig, { type: 'tcp' }>;
export type ExecHealthConfig = Extract<HealthConfig, { type: 'exec' }>;
export type AgentHealthConfig = Extract<HealthConfig, { type: 'agent' }>;

// ---------------------------------------------------------------------------
// Per-backend override

/** Keys each check type accepts besides the common ones (used to validate overrides). */
const TYPE_KEYS: Record<CheckType, readonly string[]> = {
  http: Object.keys(httpShape),
  https: [...Object.keys(httpShape), ...Object.keys(tlsShape)],
  tcp: Object.keys(tcpShape),
  exec: Object.keys(execShape),
  agent: Object.keys(agentShape),
};

const optionalOf = <T extends Record<string, z.ZodType>>(shape: T) =>
  Object.fromEntries(Object.entries(shape).map(([k, s]) => [k, s instanceof z.ZodDefault ? (s.unwrap() as z.ZodType).optional() : s.optional()])) as {
    [K in keyof T]: z.ZodOptional<T[K] extends z.ZodDefault<infer I> ? I : T[K]>;
  };

/**
 * `health:` of one backend: overrides of the service's check for this backend
 * (HAProxy's per-`server` `port`, `addr`, `inter`, `rise`, `fall`), or
 * `enabled: false` for no active check on it. Fields specific to a check type must
 * fit the service's type; `healthOverrideProblems` says when they do not. The type
 * itself cannot be changed per backend.
 */
export const backendHealthOverrideSchema = z.strictObject({
  /** false: no active check for this backend (it counts as up). Default true. */
  enabled: z.boolean().optional(),
  ...optionalOf(commonShape),
  ...optionalOf(httpShape),
  ...optionalOf(tlsShape),
  ...optionalOf(tcpShape),
  ...optionalOf(execShape),
  // agent's `port` and `send` are the common `port` and tcp's `send`.
});

export type BackendHealthOverride = z.output<typeof backendHealthOverrideSchema>;

/** A problem of an override against its service's check; `path` is relative to the backend's `health:`. */
export interface OverrideProblem {
  path: string[];
  message: string;
}

/**
 * What is wrong with a backend's override given the service's `health:` (undefined
 * when the service has none). The cluster schema calls this in its cross-field
 * check and reports each problem at `backends[i].health.<path>`; the health module
 * then merges the two (`resolveBackendCheck` in src/health/targets.ts) without
 * checking again.
 */
export function healthOverrideProblems(service: HealthConfig | undefined, override: BackendHealthOverride): OverrideProblem[] {
  const problems: OverrideProblem[] = [];
  const keys = Object.keys(override).filter((k) => k !== 'enabled' && (override as Record<string, unknown>)[k] !== undefined);
  if (service === undefined) {
    if (override.enabled !== false) {
      for (const k of keys) problems.push({ path: [k], message: `the service has no health: check to override; write health: under the service` });
    }
    return problems;
  }
  const allowed = new Set([...Object.keys(commonShape), ...TYPE_KEYS[service.type]]);
  for (const k of keys) {
    if (!allowed.has(k)) problems.push({ path: [k], message: `${JSON.stringify(k)} does not apply to the service's ${service.type} check` });
  }
  if (service.type === 'tcp') {
    const merged = { ...service, ...definedOf(override) } as TcpHealthConfig;
    if (merged.send !== undefined && merged.send_hex !== undefined) problems.push({ path: [override.send_hex !== undefined ? 'send_hex' : 'send'], message: 'the check would have both send and send_hex' });
    if (merged.expect !== undefined && merged.expect_hex !== undefined) problems.push({ path: [override.expect_hex !== undefined ? 'expect_hex' : 'expect'], message: 'the check would have both expect and expect_hex' });
  }
  return problems;
}

function definedOf<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

// ---------------------------------------------------------------------------
// Passive outlier detection

/**
 * `passive:` of a service: marking backends unusable from the outcome of real
 * requests (nginx `max_fails`/`fail_timeout`, Envoy outlier detection), and panic mode.
 */
export const outlierSchema = z
  .strictObject({
    /** Failed attempts within `fail_timeout` that eject a backend for `fail_timeout`; 0 = off. Count. Default 1 (nginx `max_fails`). */
    max_fails: z.number().int().min(0).default(1),
    /** The window for `max_fails` and how long the backend then stays ejected, in ms. Default 10s (nginx `fail_timeout`). */
    fail_timeout: durationAtLeast(1).default(10_000),
    /** HTTP statuses counted as failed attempts for `max_fails` (errors and timeouts always count). Default none (nginx: the `http_5xx` of `proxy_next_upstream`). */
    fail_status: z.array(z.number().int().min(100).max(599)).default([]),
    /** Consecutive 5xx responses (or errors/timeouts) that eject a backend; 0 = off. Count. Default 0 (Envoy `consecutive_5xx`, default 5 there). */
    consecutive_5xx: z.number().int().min(0).default(0),
    /** Consecutive 502/503/504 responses (or errors/timeouts) that eject a backend; 0 = off. Count. Default 0 (Envoy `consecutive_gateway_failure`). */
    consecutive_gateway_failure: z.number().int().min(0).default(0),
    /** A consecutive-failure ejection lasts this × the number of times the backend was ejected, in ms. Default 30s (Envoy `base_ejection_time`). */
    base_ejection_time: durationAtLeast(1).default(30_000),
    /** Upper bound of a consecutive-failure ejection, in ms. Default 300s (Envoy `max_ejection_time`). */
    max_ejection_time: durationAtLeast(1).default(300_000),
    /** No ejection while this percentage of the service's backends or more is ejected; one is always allowed. Percent 0-100. Default 50 (Envoy `max_ejection_percent`, default 10 there). */
    max_ejection_percent: z.number().min(0).max(100).default(50),
    /**
     * When fewer than this percentage of the service's (non-drained, non-maintenance)
     * backends is healthy, health is ignored and traffic spreads over all of them
     * (Envoy `healthy_panic_threshold`, default 50 there). Percent 0-100; 0 = off. Default 0.
     */
    panic_threshold: z.number().min(0).max(100).default(0),
  })
  .refine((o) => o.max_ejection_time >= o.base_ejection_time, { path: ['max_ejection_time'], message: 'expected max_ejection_time >= base_ejection_time' })
  .prefault({});

export type OutlierConfig = z.output<typeof outlierSchema>;
