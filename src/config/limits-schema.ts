/**
 * Per-service limits against abusive clients (`services.NAME.limits`): nginx's
 * `limit_conn`, `limit_req`, `limit_rate`, `allow` / `deny` and `set_real_ip_from`,
 * counted in a bounded table of clients. Every default lives here; docs/limits.md
 * documents each option. Nothing is limited unless configured.
 *
 * Units: durations `500ms`, `1s` (bare number = seconds) → ms; sizes `512`, `500k`
 * (binary) → bytes; rates `10r/s`, `600r/m` (bare number = per second).
 *
 * This file must not import `schema.ts` (which imports it).
 */
import { z } from 'zod';
import { isIP } from 'node:net';
import { duration, size } from './units.ts';

const RATE_MSG = 'expected a request rate such as 10r/s or 600r/m';

/** A request rate; milli-requests per second after parsing (nginx's integer arithmetic: 600r/m = 10000). */
const rateSchema = z.union([z.string(), z.number()], { error: RATE_MSG }).transform((v, ctx) => {
  const m = typeof v === 'number' ? [String(v), String(v), 's'] : /^\s*(\d+)\s*(?:r\/([sm]))?\s*$/.exec(v);
  const n = m === null ? NaN : Number(m[1]);
  if (m === null || !Number.isInteger(n) || n < 1) {
    ctx.addIssue({ code: 'custom', message: `${RATE_MSG} (at least 1), got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return Math.floor((n * 1000) / (m[2] === 'm' ? 60 : 1));
});

/**
 * Why a CIDR range is not one (address, prefix length in range), or undefined. The
 * proxy's matcher (src/proxy/limits/cidr.ts) also refuses host bits set beyond the prefix.
 */
export function cidrProblem(item: string): string | undefined {
  if (item === 'all') return undefined;
  const slash = item.indexOf('/');
  const addr = slash < 0 ? item : item.slice(0, slash);
  const family = isIP(addr);
  if (family === 0 || addr.includes('%')) return `expected an address or CIDR range such as 192.0.2.0/24, 2001:db8::/32 or all, got ${JSON.stringify(item)}`;
  if (slash >= 0) {
    const bits = item.slice(slash + 1);
    const max = family === 4 ? 32 : 128;
    if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `expected a prefix length 0-${max} after the "/", got ${JSON.stringify(item)}`;
  }
  return undefined;
}

/** A list of CIDR ranges, checked here so that a typo is a config error naming its index. */
export const cidrList = z.array(z.string({ error: 'expected an address or CIDR range' })).superRefine((items, ctx) => {
  items.forEach((item, i) => {
    const problem = cidrProblem(item.trim());
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [i], message: problem });
  });
});

const limitConnSchema = z
  .strictObject({
    /** Open connections per client address (nginx `limit_conn`); 0 = no limit. Default 0. */
    per_client: z.number().int().min(0).default(0),
    /** Open connections to the service in all, per worker; 0 = no limit. Default 0. */
    total: z.number().int().min(0).default(0),
    /** A refused connection gets this status once its request head is read (nginx `limit_conn_status`), or `close`: closed at once without a word. Default 503. */
    status: z.union([z.literal(503), z.literal(429), z.literal('close')]).default(503),
  })
  .prefault({});

const limitReqSchema = z.strictObject({
  /** Sustained request rate per client address: `10r/s`, `600r/m` (nginx `rate=`). Required. */
  rate: rateSchema,
  /** Requests above the rate that are queued (delayed) or, with `nodelay`, passed at once (nginx `burst=`). Default 0. */
  burst: z.number().int().min(0).default(0),
  /** Pass burst requests without delay (nginx `nodelay`). Default false. */
  nodelay: z.boolean().default(false),
  /** Status of a refused request (nginx `limit_req_status`). Default 429. */
  status: z.union([z.literal(429), z.literal(503)]).default(429),
});

export const limitsSchema = z
  .strictObject({
    /** Where limit_req buckets live: `local` (per worker process) or `redis` (shared by every worker and director through `redis.address`). limit_conn is always per worker. Default local. */
    store: z.enum(['local', 'redis'], { error: 'expected store: local or redis' }).default('local'),
    redis: z
      .strictObject({
        /** Redis server, `host:port`. Default 127.0.0.1:6379. */
        address: z
          .string()
          .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port such as 127.0.0.1:6379')
          .default('127.0.0.1:6379'),
        /** Prefix of the keys (`<prefix>:lr:<service>:<client>`). Default palisade. */
        prefix: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'expected a key prefix of letters, digits, "_", ".", ":" or "-"').default('palisade'),
      })
      .prefault({}),
    /** Most client addresses tracked; past it the least recently seen is forgotten. Default 65536. */
    table_size: z.number().int().min(16).max(10_000_000).default(65_536),
    limit_conn: limitConnSchema,
    /** Request rate per client (nginx `limit_req`); absent = none. */
    limit_req: limitReqSchema.optional(),
    /** Bandwidth of each response to a client, bytes per second (nginx `limit_rate`); 0 = none. Default 0. */
    limit_rate: size(0),
    /** Bytes of each response sent at full speed before `limit_rate` applies (nginx `limit_rate_after`). Default 0. */
    limit_rate_after: size(0),
    /** Slowest request body accepted, bytes per second, after a grace of `timeouts.client_body` (Apache mod_reqtimeout `MinRate`); slower gets 408. 0 = only `client_body` between two reads. Default 0. */
    body_min_rate: size(0),
    /** Client ranges allowed; empty = everyone not denied. Default []. */
    allow: cidrList.default([]),
    /** Client ranges refused with 403; `deny` wins over `allow`. Default []. */
    deny: cidrList.default([]),
    /** Proxies trusted to tell the client address in X-Forwarded-For (nginx `set_real_ip_from`). Default []. */
    real_ip_from: cidrList.default([]),
    /** At most one log line per refusal reason per this interval (the first is always logged). Default 1s. */
    log_interval: duration(1_000),
  })
  .prefault({});

export type LimitsConfig = z.output<typeof limitsSchema>;
export type LimitReqConfig = z.output<typeof limitReqSchema>;
