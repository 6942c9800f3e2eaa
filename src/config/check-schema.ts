/**
 * What one monitoring check is in the cluster file (a service's `check:`): either a
 * Nagios / Monitoring Plugins plugin run with an argument array (never a shell), or a
 * built-in check with its own options. docs/monitoring-checks.md documents every
 * check, option, default and unit.
 *
 * ```yaml
 * check: { plugin: [/usr/lib/nagios/plugins/check_load, -w, "5,4,3", -c, "10,8,6"] }
 * check: { builtin: procs, command: nginx, critical: "1:" }
 * ```
 *
 * Units: durations are written `500ms`, `5s`, `2m` (a bare number is seconds) and come
 * out in milliseconds; sizes are written `512`, `16k`, `1m` and come out in bytes.
 * Thresholds are Nagios ranges (`10`, `10:`, `~:10`, `10:20`, `@10:20`), kept as
 * written (validated here, evaluated by the check).
 */
import { z } from 'zod';
import { parseNagiosRange } from '../core/nagios-range.ts';
import { parseSize } from '../core/units.ts';
import { parseStatusRanges } from './health-schema.ts';
import { durationAtLeast, regexString, sizeValue } from './units.ts';

const PORT_MSG = 'expected a port number (1-65535)';
const portSchema = z.number({ error: PORT_MSG }).int(PORT_MSG).min(1, PORT_MSG).max(65535, PORT_MSG);

/** Time limit of one run, in ms after parsing; at least 1ms. Default 10s (the plugins' own default `-t 10`). */
const timeoutSchema = durationAtLeast(1).default(10_000);

/** A Nagios threshold range (string or number), validated, kept as written (a string). */
export function rangeValue() {
  return z.union([z.string(), z.number()], { error: 'expected a threshold range such as 10, 10:, ~:10, 10:20 or @10:20' }).transform((v, ctx) => {
    const r = parseNagiosRange(v);
    if (typeof r === 'string') {
      ctx.addIssue({ code: 'custom', message: r });
      return z.NEVER;
    }
    return r.text;
  });
}

/** Three ranges for the 1, 5 and 15 minute load: `"5,4,3"`, `[5, 4, 3]`, or one range for all three. */
function loadRanges(dflt: string) {
  const msg = 'expected one threshold range or three separated by commas (1, 5, 15 minutes) such as "5,4,3"';
  return z
    .union([z.string(), z.number(), z.array(z.union([z.string(), z.number()]))], { error: msg })
    .default(dflt)
    .transform((v, ctx): [string, string, string] | typeof z.NEVER => {
      const parts = Array.isArray(v) ? v.map(String) : String(v).split(',');
      if (parts.length !== 1 && parts.length !== 3) {
        ctx.addIssue({ code: 'custom', message: `${msg}, got ${JSON.stringify(v)}` });
        return z.NEVER;
      }
      const out: string[] = [];
      for (const p of parts) {
        const r = parseNagiosRange(p);
        if (typeof r === 'string') {
          ctx.addIssue({ code: 'custom', message: r });
          return z.NEVER;
        }
        out.push(r.text);
      }
      return out.length === 1 ? [out[0]!, out[0]!, out[0]!] : [out[0]!, out[1]!, out[2]!];
    });
}

/**
 * A "free space below" threshold as check_swap / check_disk take it: `20%` (percent
 * free) or a size such as `512m` (bytes free). Alerts when the free amount is below it.
 */
export type FreeThreshold = { readonly kind: 'percent'; readonly value: number } | { readonly kind: 'bytes'; readonly value: number };

const FREE_MSG = 'expected a free-space threshold: a percentage such as 20% or a size such as 512m';

function freeThreshold() {
  return z.union([z.string(), z.number()], { error: FREE_MSG }).transform((v, ctx): FreeThreshold | typeof z.NEVER => {
    const pct = typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(v) : null;
    if (pct) {
      const value = Number(pct[1]);
      if (value <= 100) return { kind: 'percent', value };
    } else {
      const bytes = parseSize(v);
      if (bytes !== undefined) return { kind: 'bytes', value: bytes };
    }
    ctx.addIssue({ code: 'custom', message: `${FREE_MSG}, got ${JSON.stringify(v)}` });
    return z.NEVER;
  });
}

const STATE_MSG = 'expected OK, WARNING, CRITICAL or UNKNOWN';
const stateName = z.enum(['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'], { error: STATE_MSG });

// ---------------------------------------------------------------------------
// A plugin

const pluginCheckSchema = z.strictObject({
  /**
   * The plugin and its arguments, run directly (no shell: no quoting, globbing or
   * `$VAR` expansion). The first item must be an absolute path.
   */
  plugin: z
    .array(z.union([z.string(), z.number()]).transform(String), { error: 'expected the plugin and its arguments as a list, e.g. [/usr/lib/nagios/plugins/check_load, -w, "5,4,3"]' })
    .min(1, 'expected at least the plugin path')
    .refine((a) => a.length === 0 || a[0]!.startsWith('/'), 'expected an absolute path to the plugin as the first item'),
  /** Time limit, in ms; the plugin's whole process group is killed then and the result is UNKNOWN. Default 10s. */
  timeout: timeoutSchema,
  /** Extra environment variables for the plugin. Default: none (the plugin gets PATH, LC_ALL=C and these only). */
  env: z.record(z.string(), z.string(), { error: 'expected a map of environment variable names to strings' }).default({}),
  /** Output kept from stdout and stderr together, in bytes; more is dropped and noted. Default 64k (at least 1k). */
  max_output: sizeValue().refine((n) => n >= 1024, 'expected at least 1k').default(65_536),
});

// ---------------------------------------------------------------------------
// Built-in checks: one object per name, keyed by `builtin`

/** Options shared by every built-in check. */
const common = {
  /** Time limit of one run, in ms; the result is UNKNOWN (CRITICAL for tcp, http, fs_responsive) after it. Default 10s. */
  timeout: timeoutSchema,
};

const loadCheck = z.strictObject({
  builtin: z.literal('load'),
  ...common,
  /** Warning ranges for the 1, 5 and 15 minute load averages. Default "5,4,3" (check_load -w). */
  warning: loadRanges('5,4,3'),
  /** Critical ranges. Default "10,6,4" (check_load -c). */
  critical: loadRanges('10,6,4'),
  /** Divide the load by the number of CPUs before comparing (check_load -r). Default false. */
  per_cpu: z.boolean().default(false),
});

const swapCheck = z.strictObject({
  builtin: z.literal('swap'),
  ...common,
  /** WARNING when free swap is below this (percent or size). Default 20% (check_swap -w 20%). */
  warning: freeThreshold().default({ kind: 'percent', value: 20 }),
  /** CRITICAL when free swap is below this. Default 10%. */
  critical: freeThreshold().default({ kind: 'percent', value: 10 }),
  /** State when the host has no swap at all (check_swap -n). Default CRITICAL, as check_swap. */
  no_swap: stateName.default('CRITICAL'),
});

const memoryCheck = z.strictObject({
  builtin: z.literal('memory'),
  ...common,
  /** WARNING when available memory (MemAvailable) is below this (percent or size). Default 10%. */
  warning: freeThreshold().default({ kind: 'percent', value: 10 }),
  /** CRITICAL when available memory is below this. Default 5%. */
  critical: freeThreshold().default({ kind: 'percent', value: 5 }),
});

const procsCheck = z.strictObject({
  builtin: z.literal('procs'),
  ...common,
  /** Count only processes whose name (/proc/PID/comm, as `ps -o comm`) is exactly this (check_procs -C). Default: any. */
  command: z.string().min(1, 'expected a process name').optional(),
  /** Count only processes whose command line contains this (check_procs -a). Default: any. */
  args: z.string().min(1, 'expected a string').optional(),
  /** Count only processes in one of these states, letters as in `ps` (R S D Z T t X I), e.g. "Z" or "DZ" (check_procs -s). Default: any. */
  state: z.string().regex(/^[RSDZTtXIWPK]+$/, 'expected process state letters such as Z, D or DZ').optional(),
  /** Count only processes of this user (name or uid) (check_procs -u). Default: any. */
  user: z.union([z.string().min(1), z.number().int().min(0)], { error: 'expected a user name or uid' }).optional(),
  /** Warning range on the count (e.g. "1:" = at least one). Default: none. */
  warning: rangeValue().optional(),
  /** Critical range on the count. Default: none. */
  critical: rangeValue().optional(),
});

const diskCheck = z.strictObject({
  builtin: z.literal('disk'),
  ...common,
  /** A mount point (or any path on the file system) to check. */
  path: z.string({ error: 'expected the mount point to check, e.g. /' }).startsWith('/', 'expected an absolute path'),
  /** WARNING when free space is below this (percent or size). Default 20% (check_disk -w 20%). */
  warning: freeThreshold().default({ kind: 'percent', value: 20 }),
  /** CRITICAL when free space is below this. Default 10%. */
  critical: freeThreshold().default({ kind: 'percent', value: 10 }),
  /** WARNING when free inodes are below this percentage (check_disk -W). Default: none. */
  inode_warning: freeThreshold().optional(),
  /** CRITICAL when free inodes are below this percentage (check_disk -K). Default: none. */
  inode_critical: freeThreshold().optional(),
});

const tcpCheck = z.strictObject({
  builtin: z.literal('tcp'),
  ...common,
  /** Host or IP to connect to. Default 127.0.0.1. */
  host: z.string().min(1, 'expected a host or IP address').default('127.0.0.1'),
  port: portSchema,
  /** Bytes to send after connecting (check_tcp -s). Default: nothing. */
  send: z.string().optional(),
  /** A string the reply must contain (check_tcp -e). Default: none (connect only). */
  expect: z.string().min(1, 'expected a non-empty string').optional(),
  /** State when the reply does not contain `expect` (check_tcp -M). Default WARNING, as check_tcp. */
  mismatch: stateName.default('WARNING'),
  /** WARNING when the response time is above this, in ms (check_tcp -w). Default: none. */
  warning: durationAtLeast(0).optional(),
  /** CRITICAL when the response time is above this, in ms (check_tcp -c). Default: none. */
  critical: durationAtLeast(0).optional(),
});

const statusSchema = z
  .union([z.number(), z.string(), z.array(z.union([z.number(), z.string()]))], { error: 'expected status codes such as [200-299] or [200, 301-302]' })
  .transform((v, ctx) => {
    const r = parseStatusRanges(v);
    if (typeof r === 'string') {
      ctx.addIssue({ code: 'custom', message: r });
      return z.NEVER;
    }
    return r;
  });

const httpCheck = z.strictObject({
  builtin: z.literal('http'),
  ...common,
  /** The URL to fetch (http:// or https://). */
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
  /** Request method. Default GET. */
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS'], { error: 'expected GET, HEAD, POST, PUT or OPTIONS' }).default('GET'),
  /** Extra request headers. Default: none. */
  headers: z.record(z.string(), z.string()).default({}),
  /** Request body (for POST/PUT). Default: none. */
  body: z.string().optional(),
  /**
   * Statuses that are OK; any other is CRITICAL. Default: check_http's rule (below 400
   * OK, 4xx WARNING, 5xx CRITICAL).
   */
  expect: statusSchema.optional(),
  /** A string the response body must contain (check_http -s); CRITICAL otherwise. Default: none. */
  contains: z.string().min(1, 'expected a non-empty string').optional(),
  /** A regular expression the body must match (check_http -r); CRITICAL otherwise. Default: none. */
  matches: regexString().optional(),
  /** Body bytes read for `contains` / `matches`, at most. Default 1m. */
  max_body: sizeValue().default(1_048_576),
  /** WARNING when the response time is above this, in ms (check_http -w). Default: none. */
  warning: durationAtLeast(0).optional(),
  /** CRITICAL when the response time is above this, in ms (check_http -c). Default: none. */
  critical: durationAtLeast(0).optional(),
  /** https: WARNING when the server certificate expires within this many days (check_http -C 30,14). Default 30. */
  certificate_warning_days: z.number().min(0).default(30),
  /** https: CRITICAL when the certificate expires within this many days. Default 14. */
  certificate_critical_days: z.number().min(0).default(14),
  /** https: verify the certificate chain and name (an unverified chain is CRITICAL). Default false, as check_http. */
  tls_verify: z.boolean().default(false),
});

const usersCheck = z.strictObject({
  builtin: z.literal('users'),
  ...common,
  /** Warning range on the number of logged-in sessions (check_users -w). Default: none. */
  warning: rangeValue().optional(),
  /** Critical range on the number of sessions (check_users -c). Default: none. */
  critical: rangeValue().optional(),
  /** Users who may be logged in; anyone else logged in is CRITICAL, named in the output. Default: anyone. */
  allowed: z.array(z.string().min(1)).optional(),
  /** The utmp file to read. Default /var/run/utmp. */
  utmp: z.string().startsWith('/', 'expected an absolute path').default('/var/run/utmp'),
});

const mysqlReplicaCheck = z.strictObject({
  builtin: z.literal('mysql_replica'),
  ...common,
  /** Server to ask. Default 127.0.0.1. */
  host: z.string().min(1).default('127.0.0.1'),
  /** TCP port. Default 3306. */
  port: portSchema.default(3306),
  /** Unix socket instead of host and port. Default: none. */
  socket: z.string().startsWith('/', 'expected an absolute path').optional(),
  /** User name (needs REPLICATION CLIENT, or SLAVE MONITOR on MariaDB ≥ 10.5.9). Default "monitor". */
  user: z.string().min(1).default('monitor'),
  /** Password. Default: none. Prefer `password_file`. */
  password: z.string().optional(),
  /** File whose first line is the password (read at each run). Default: none. */
  password_file: z.string().startsWith('/', 'expected an absolute path').optional(),
  /** Replication connection name (MariaDB multi-source), '' for the default one. Default ''. */
  connection: z.string().default(''),
  /** Warning range on seconds behind the source. Default 60 (over a minute behind). */
  warning: rangeValue().default('60'),
  /** Critical range on seconds behind the source. Default 300. */
  critical: rangeValue().default('300'),
});

const fsResponsiveCheck = z.strictObject({
  builtin: z.literal('fs_responsive'),
  /** How long `stat` may take, in ms; past it the stat's child process is killed and the result is CRITICAL. Default 5s. */
  timeout: durationAtLeast(1).default(5_000),
  /** The mount point (or a path on it) that must answer. */
  path: z.string({ error: 'expected the mount point to check, e.g. /srv/shared' }).startsWith('/', 'expected an absolute path'),
  /** WARNING when the stat takes longer than this, in ms. Default: none. */
  warning: durationAtLeast(0).optional(),
});

const vrrpCheck = z.strictObject({
  builtin: z.literal('vrrp'),
  ...common,
  /** The VRRP instance (a name under `vrrp.instances`) whose holder is checked: CRITICAL when no member is MASTER or more than one is (split brain). */
  instance: z.string({ error: 'expected a VRRP instance name' }).min(1, 'expected a VRRP instance name'),
  /** State when a member's status cannot be read (its node does not answer). Default WARNING. */
  unreachable: stateName.default('WARNING'),
});

const backendsCheck = z.strictObject({
  builtin: z.literal('backends'),
  ...common,
  /** The service (a name under `services`) whose backends in state up are counted. */
  service: z.string({ error: 'expected a service name' }).min(1, 'expected a service name'),
  /** Warning range on the number of backends up (e.g. "2:" = at least two). Default: none. */
  warning: rangeValue().optional(),
  /** Critical range on the number of backends up. Default "1:" (CRITICAL when none is up). */
  critical: rangeValue().default('1:'),
});

/** Names of the built-in checks. */
export const BUILTIN_CHECKS = ['load', 'swap', 'memory', 'procs', 'disk', 'tcp', 'http', 'users', 'mysql_replica', 'fs_responsive', 'vrrp', 'backends'] as const;
export type BuiltinName = (typeof BUILTIN_CHECKS)[number];

const builtinCheckSchema = z.discriminatedUnion(
  'builtin',
  [loadCheck, swapCheck, memoryCheck, procsCheck, diskCheck, tcpCheck, httpCheck, usersCheck, mysqlReplicaCheck, fsResponsiveCheck, vrrpCheck, backendsCheck],
  { error: `expected builtin to be one of ${BUILTIN_CHECKS.join(', ')}` },
);

const CHECK_MSG = 'expected a check: { plugin: [/path/to/check_x, args...] } or { builtin: <name>, ...options }';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * One check: a plugin or a built-in. Dispatches on the key present (`plugin` or
 * `builtin`) so that an error is reported inside the variant that was meant, at its
 * path, rather than as a vague "no union branch matched".
 */
export const checkSchema = z.unknown().transform((v, ctx): z.output<typeof pluginCheckSchema> | z.output<typeof builtinCheckSchema> => {
  const schema = !isObject(v) ? undefined : 'builtin' in v ? builtinCheckSchema : 'plugin' in v ? pluginCheckSchema : undefined;
  if (schema === undefined) {
    ctx.addIssue({ code: 'custom', message: CHECK_MSG });
    return z.NEVER;
  }
  const r = schema.safeParse(v);
  if (r.success) return r.data;
  for (const issue of r.error.issues) ctx.addIssue({ ...issue, path: [...issue.path] } as Parameters<typeof ctx.addIssue>[0]);
  return z.NEVER;
});

export type CheckConfig = z.output<typeof checkSchema>;
export type PluginCheckConfig = z.output<typeof pluginCheckSchema>;
export type BuiltinCheckConfig = z.output<typeof builtinCheckSchema>;
/** The options of one built-in check, by name. */
export type BuiltinOptions<N extends BuiltinName> = Extract<BuiltinCheckConfig, { builtin: N }>;
