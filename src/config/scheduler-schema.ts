/**
 * Schema of a service's `scheduler:`, `persistence:` and `sticky:` settings, and the
 * parser of `hash` key specs. docs/schedulers.md describes every algorithm and option.
 *
 * Units: durations are written `500ms`, `5s`, `2m`, `1h` (a bare number is seconds)
 * and come out in milliseconds.
 */
import { z } from 'zod';
import { durationValue } from './units.ts';

/** Names of the scheduling algorithms a service may choose (see docs/schedulers.md). */
export const SCHEDULER_NAMES = [
  'rr',
  'wrr',
  'swrr',
  'lc',
  'wlc',
  'sed',
  'nq',
  'lblc',
  'lblcr',
  'dh',
  'sh',
  'mh',
  'fo',
  'ovf',
  'twos',
  'ip_hash',
  'hash',
  'random',
  'random_two',
  'least_request',
  'least_time',
  'ewma',
  'first',
] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

// ---- hash key specs --------------------------------------------------------

/** One piece of a hash key: literal text or a request variable. */
export type HashKeyPart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'remote_addr' }
  | { readonly kind: 'request_uri' }
  | { readonly kind: 'uri' }
  /** Request header; `name` in lower case with `_` turned into `-` (as nginx's `$http_x_user_id` → `x-user-id`). */
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'cookie'; readonly name: string }
  | { readonly kind: 'arg'; readonly name: string };

/** A parsed `key:` of the `hash` scheduler: its pieces, concatenated in order. */
export interface HashKeySpec {
  /** The text as written. */
  readonly source: string;
  readonly parts: readonly HashKeyPart[];
}

export type HashKeySpecResult = { readonly ok: true; readonly spec: HashKeySpec } | { readonly ok: false; readonly error: string };

const KEY_VARIABLES = '$remote_addr, $request_uri, $uri, $http_<header>, $cookie_<name>, $arg_<name>';

/**
 * Parses a hash key spec such as `$request_uri`, `$cookie_session`,
 * `$http_x_user_id` or `$http_host$uri` (nginx variable syntax; `${name}` when a
 * name is followed by letters). Variables: `$remote_addr`, `$request_uri`, `$uri`,
 * `$http_<header>`, `$cookie_<name>`, `$arg_<name>`; other text is literal. Pure;
 * never throws. Compute the key of a request with `hashKeyOf` (balancer/key-spec.ts).
 */
export function hashKeySpec(text: string): HashKeySpecResult {
  const parts: HashKeyPart[] = [];
  let literal = '';
  let variables = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c !== '$') {
      literal += c;
      i++;
      continue;
    }
    let name: string;
    if (text[i + 1] === '{') {
      const close = text.indexOf('}', i + 2);
      if (close < 0) return { ok: false, error: `expected "}" closing "\${" at offset ${i} in ${JSON.stringify(text)}` };
      name = text.slice(i + 2, close);
      i = close + 1;
    } else {
      const m = /^[A-Za-z0-9_]+/.exec(text.slice(i + 1));
      name = m ? m[0] : '';
      i += 1 + name.length;
    }
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return { ok: false, error: `expected a variable name after "$" in ${JSON.stringify(text)}; variables: ${KEY_VARIABLES}` };
    const part = keyVariable(name.toLowerCase());
    if (part === undefined) return { ok: false, error: `unknown variable $${name} in ${JSON.stringify(text)}; expected ${KEY_VARIABLES}` };
    if (literal !== '') parts.push({ kind: 'text', text: literal });
    literal = '';
    parts.push(part);
    variables++;
  }
  if (literal !== '') parts.push({ kind: 'text', text: literal });
  if (variables === 0) return { ok: false, error: `expected at least one variable in the key, such as $request_uri (got ${JSON.stringify(text)}); variables: ${KEY_VARIABLES}` };
  return { ok: true, spec: { source: text, parts } };
}

function keyVariable(name: string): HashKeyPart | undefined {
  if (name === 'remote_addr' || name === 'request_uri' || name === 'uri') return { kind: name };
  for (const [prefix, kind] of [
    ['http_', 'header'],
    ['cookie_', 'cookie'],
    ['arg_', 'arg'],
  ] as const) {
    if (name.startsWith(prefix) && name.length > prefix.length) {
      const rest = name.slice(prefix.length);
      return { kind, name: kind === 'header' ? rest.replaceAll('_', '-') : rest };
    }
  }
  return undefined;
}

// ---- helpers ---------------------------------------------------------------


function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

function nearestPrimes(n: number): [number, number] {
  let lo = Math.max(2, n - 1);
  while (lo > 2 && !isPrime(lo)) lo--;
  let hi = n + 1;
  while (!isPrime(hi)) hi++;
  return [lo, hi];
}

// ---- scheduler -------------------------------------------------------------

/** Largest Maglev table accepted: the largest prime below 2^20 (4 MiB of table). */
export const MAX_TABLE_SIZE = 1_048_573;

/** The scheduler options with their defaults (documented on SchedulerConfig). */
export const SCHEDULER_DEFAULTS = {
  consistent: false,
  hash_balance_factor: 0,
  table_size: 65537,
  sh_port: false,
  sh_fallback: false,
  mh_port: false,
  mh_fallback: false,
  bias: 1,
  choices: 2,
  decay: 10_000,
  lblc_expire: 86_400_000,
  lblc_max_entries: 16384,
} as const;

const int = (what: string) => z.number({ error: `expected ${what}` }).int(`expected ${what}`);
const bool = z.boolean({ error: 'expected true or false' });

const schedulerObject = z.strictObject({
  name: z.enum(SCHEDULER_NAMES, { error: `expected a scheduler name: ${SCHEDULER_NAMES.join(', ')}` }),
  key: z.string({ error: 'expected a key spec such as $request_uri' }).optional(),
  consistent: bool.optional(),
  hash_balance_factor: int('0 (off) or a percentage of at least 100, such as 125').optional(),
  table_size: int(`a prime table size such as 65537 (at most ${MAX_TABLE_SIZE})`).optional(),
  sh_port: bool.optional(),
  sh_fallback: bool.optional(),
  mh_port: bool.optional(),
  mh_fallback: bool.optional(),
  bias: z.number({ error: 'expected a number >= 0, such as 1' }).min(0, 'expected a number >= 0, such as 1').max(16, 'expected a bias of at most 16').optional(),
  choices: int('a number of choices from 2 to 16').min(2, 'expected a number of choices from 2 to 16').max(16, 'expected a number of choices from 2 to 16').optional(),
  decay: durationValue().optional(),
  lblc_expire: durationValue().optional(),
  lblc_max_entries: int('a number of entries from 1 to 10000000').min(1, 'expected a number of entries from 1 to 10000000').max(10_000_000, 'expected a number of entries from 1 to 10000000').optional(),
});

type SchedulerInput = z.output<typeof schedulerObject>;
type OptionName = Exclude<keyof SchedulerInput, 'name'>;

/** Which algorithms each option applies to; giving it to another is an error. */
const APPLIES_TO: Record<OptionName, readonly SchedulerName[]> = {
  key: ['hash'],
  consistent: ['hash'],
  hash_balance_factor: ['hash'],
  table_size: ['mh'],
  mh_port: ['mh'],
  mh_fallback: ['mh'],
  sh_port: ['sh'],
  sh_fallback: ['sh'],
  bias: ['least_request'],
  choices: ['least_request', 'least_time', 'ewma'],
  decay: ['least_time', 'ewma'],
  lblc_expire: ['lblc', 'lblcr'],
  lblc_max_entries: ['lblc', 'lblcr'],
};

/** A service's scheduler after validation: the algorithm and every option, defaults filled in. */
export interface SchedulerConfig {
  /** Algorithm name (docs/schedulers.md). Default `swrr`. */
  readonly name: SchedulerName;
  /** `hash` only, required there: the key spec, e.g. `$request_uri` (see hashKeySpec). */
  readonly key?: string;
  /** `hash`: ketama consistent hashing (nginx `hash ... consistent`). Default false. */
  readonly consistent: boolean;
  /** `hash` with `consistent`: bounded load, in percent of the average load (HAProxy `hash-balance-factor`); 0 = off, else >= 100. Default 0. */
  readonly hash_balance_factor: number;
  /** `mh`: Maglev lookup table size, a prime from 3 to 1048573 (entries). Default 65537. */
  readonly table_size: number;
  /** `sh`: also hash the client's source port (ipvsadm `sh-port`). Default false. */
  readonly sh_port: boolean;
  /** `sh`: when the hashed backend is unusable, use the next one in the table (ipvsadm `sh-fallback`). Default false. */
  readonly sh_fallback: boolean;
  /** `mh`: also hash the client's source port (ipvsadm `mh-port`). Default false. */
  readonly mh_port: boolean;
  /** `mh`: when the hashed backend is unusable, rehash to another (ipvsadm `mh-fallback`). Default false. */
  readonly mh_fallback: boolean;
  /** `least_request`: exponent of (active + 1) when weights differ (Envoy `active_request_bias`). Default 1. */
  readonly bias: number;
  /** `least_request`, `least_time`, `ewma`: backends sampled per pick (Envoy `choice_count`). Default 2. */
  readonly choices: number;
  /** `least_time`, `ewma`: time constant of the response-time average, ms. Default 10s. */
  readonly decay: number;
  /** `lblc`, `lblcr`: an unused destination entry is forgotten after this long, ms (sysctl `lblc_expiration`). Default 24h. */
  readonly lblc_expire: number;
  /** `lblc`, `lblcr`: most destinations remembered (least recently used dropped). Default 16384. */
  readonly lblc_max_entries: number;
}

function checkScheduler(v: SchedulerInput, ctx: z.RefinementCtx): void {
  for (const opt of Object.keys(APPLIES_TO) as OptionName[]) {
    if (v[opt] === undefined) continue;
    const names = APPLIES_TO[opt];
    if (!names.includes(v.name)) {
      ctx.addIssue({ code: 'custom', path: [opt], message: `${opt} applies only to scheduler ${names.join(' or ')}, not ${v.name}` });
    }
  }
  if (v.name === 'hash') {
    if (v.key === undefined) {
      ctx.addIssue({ code: 'custom', path: ['key'], message: 'expected key: scheduler hash needs a key spec, such as { name: hash, key: $request_uri }' });
    } else {
      const r = hashKeySpec(v.key);
      if (!r.ok) ctx.addIssue({ code: 'custom', path: ['key'], message: r.error });
    }
    const f = v.hash_balance_factor;
    if (f !== undefined && f !== 0) {
      if (f < 100) ctx.addIssue({ code: 'custom', path: ['hash_balance_factor'], message: `expected 0 (off) or a percentage of at least 100, such as 125; got ${f}` });
      else if (v.consistent !== true) ctx.addIssue({ code: 'custom', path: ['hash_balance_factor'], message: 'hash_balance_factor needs consistent: true (bounded load applies to the consistent-hash ring)' });
    }
  }
  const t = v.table_size;
  if (t !== undefined && (t < 3 || t > MAX_TABLE_SIZE || !isPrime(t))) {
    const hint = t >= 3 && t <= MAX_TABLE_SIZE ? `; nearest primes: ${nearestPrimes(t).join(' and ')}` : '';
    ctx.addIssue({ code: 'custom', path: ['table_size'], message: `expected a prime table size from 3 to ${MAX_TABLE_SIZE}, such as 65537; got ${t}${hint}` });
  }
  for (const opt of ['decay', 'lblc_expire'] as const) {
    if (v[opt] === 0) ctx.addIssue({ code: 'custom', path: [opt], message: `expected a duration above 0, such as 10s` });
  }
}

function withDefaults(v: SchedulerInput): SchedulerConfig {
  const out: { -readonly [K in keyof SchedulerConfig]: SchedulerConfig[K] } = { name: v.name, ...SCHEDULER_DEFAULTS };
  for (const opt of Object.keys(APPLIES_TO) as OptionName[]) {
    if (v[opt] !== undefined) (out as Record<string, unknown>)[opt] = v[opt];
  }
  return out;
}

/**
 * `scheduler:` in a service: either a bare name (`swrr`) or an object with the name
 * and its options (`{ name: hash, key: $request_uri, consistent: true }`). Unknown
 * keys, options of another algorithm and bad values are errors. Normalised to
 * SchedulerConfig, every default filled in. Default `swrr`.
 */
export const schedulerSchema = z
  .union([z.enum(SCHEDULER_NAMES), schedulerObject], {
    // A bare value gets this message; for an object, the loader reports the deeper problem (e.g. `decay`).
    error: (iss) => (iss.input !== null && typeof iss.input === 'object' && !Array.isArray(iss.input) ? undefined : `expected a scheduler name (${SCHEDULER_NAMES.join(', ')}) or { name, ...options }`),
  })
  .default('swrr')
  .transform((v): SchedulerInput => (typeof v === 'string' ? { name: v } : v))
  .superRefine(checkScheduler)
  .transform(withDefaults);

// ---- persistence -----------------------------------------------------------

function netmaskBits(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text.trim());
  if (m === null) return undefined;
  let v = 0;
  for (let k = 1; k <= 4; k++) {
    const o = Number(m[k]);
    if (o > 255) return undefined;
    v = v * 256 + o;
  }
  const bits = 32 - Math.log2(2 ** 32 - v);
  // contiguous ones then zeros: v = 2^32 - 2^(32-bits)
  if (v === 0) return 0;
  return Number.isInteger(bits) ? bits : undefined;
}

/** An IPv4 netmask as dotted quad for a prefix length. */
export function netmaskText(bits: number): string {
  const v = bits === 0 ? 0 : 2 ** 32 - 2 ** (32 - bits);
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

const NETMASK_ERROR = 'expected an IPv4 netmask such as 255.255.255.0 or a prefix length from 0 to 32';

/**
 * `persistence:` in a service: source-IP persistence, LVS's `ipvsadm -p timeout -M
 * netmask` / keepalived's `persistence_timeout` and `persistence_granularity`. A
 * client (or its whole network, by granularity) keeps its backend while it returns
 * within `timeout`.
 */
export const persistenceSchema = z.strictObject({
  /** How long an entry lives after its last use, ms (ipvsadm `-p`). Default 300s, as ipvsadm. */
  timeout: durationValue()
    .refine((ms) => ms > 0, 'expected a duration above 0, such as 300s')
    .default(300_000),
  /**
   * IPv4 clients sharing the first bits of their address share the entry: a netmask
   * (`255.255.255.0`) or a prefix length (`24`) in, always a netmask out (ipvsadm
   * `-M`). Default 255.255.255.255 (each address on its own).
   */
  granularity: z
    .union([z.string(), z.number()], { error: NETMASK_ERROR })
    .transform((v, ctx) => {
      const bits = typeof v === 'number' ? (Number.isInteger(v) && v >= 0 && v <= 32 ? v : undefined) : /^\/?\d{1,2}$/.test(v.trim()) ? Number(v.trim().replace('/', '')) : netmaskBits(v);
      if (bits === undefined || bits > 32) {
        ctx.addIssue({ code: 'custom', message: `${NETMASK_ERROR}, got ${JSON.stringify(v)}` });
        return z.NEVER;
      }
      return netmaskText(bits);
    })
    .default('255.255.255.255'),
  /** IPv6 clients sharing this many leading bits share the entry (prefix length). Default 128. */
  granularity_v6: int('an IPv6 prefix length from 0 to 128').min(0, 'expected an IPv6 prefix length from 0 to 128').max(128, 'expected an IPv6 prefix length from 0 to 128').default(128),
  /** Most entries kept (one per client network); beyond, the least recently used is dropped. Default 65536. */
  max_entries: int('a number of entries from 1 to 10000000').min(1, 'expected a number of entries from 1 to 10000000').max(10_000_000, 'expected a number of entries from 1 to 10000000').default(65536),
});

export type PersistenceConfig = z.output<typeof persistenceSchema>;

// ---- sticky cookie ---------------------------------------------------------

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * `sticky:` in a service: cookie persistence (HAProxy `cookie NAME insert`, nginx
 * `sticky cookie`). The proxy sets a cookie whose value is an opaque keyed hash of the
 * backend's id (never its address) and sends a request carrying it back to that
 * backend while it is usable.
 */
export const stickySchema = z
  .strictObject({
    /** Cookie name (an RFC 6265 token), required. */
    cookie: z.string({ error: 'expected a cookie name' }).regex(COOKIE_NAME, 'expected a cookie name of letters, digits and !#$%&\'*+-.^_`|~'),
    /** Key of the value's hash, at least 16 characters; default derived from the cluster and service names (then the value hides the address but can be recomputed by who knows those). */
    secret: z.string({ error: 'expected a secret of at least 16 characters' }).min(16, 'expected a secret of at least 16 characters').optional(),
    /** Cookie lifetime, ms (`Max-Age`); absent = a session cookie. */
    expires: durationValue().optional(),
    /** Cookie `Path`. Default `/`. */
    path: z.string().startsWith('/', 'expected a path starting with "/"').default('/'),
    /** Cookie `Domain`; absent = the request's host only. */
    domain: z.string().regex(/^\.?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/, 'expected a domain name such as example.com').optional(),
    /** `HttpOnly`. Default true. */
    http_only: bool.default(true),
    /** `Secure`. Default false. */
    secure: bool.default(false),
    /** `SameSite`: lax, strict or none (none needs secure). Default lax. */
    same_site: z.enum(['lax', 'strict', 'none'], { error: 'expected lax, strict or none' }).default('lax'),
  })
  .superRefine((v, ctx) => {
    if (v.same_site === 'none' && !v.secure) ctx.addIssue({ code: 'custom', path: ['same_site'], message: 'same_site: none needs secure: true (browsers drop such cookies otherwise)' });
  });

export type StickyConfig = z.output<typeof stickySchema>;
