/**
 * The cluster file's `monitor:` section (the Nagios job): hosts with their parents,
 * services per host with their check, intervals and attempts, dependencies,
 * contacts and contact groups, time periods, notification options, escalations,
 * notification channels and delivery retries. Every default lives here;
 * docs/monitoring.md documents each option with its Nagios equivalent, default and unit.
 *
 * Defaults follow Nagios' sample templates (`generic-service`, `generic-host`) where
 * they exist: `max_check_attempts` 3, `retry_interval` 1 min, `notification_interval`
 * 60 min, notification options all states; `check_interval` is 5 min (Nagios'
 * sample is 10 min with `interval_length` 60; 5 min is the common production value
 * and the pnp4nagios RRD step this store is sized against).
 *
 * Units: durations are written `30s`, `5m`, `1h` (a bare number is seconds) and come
 * out in milliseconds. Thresholds for flapping are percentages (0-100).
 *
 * This file must not import `schema.ts` (which imports it).
 */
import { z } from 'zod';
import { checkSchema } from './check-schema.ts';
import { durationAtLeast } from './units.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const NAME_MSG = 'expected a name of letters, digits, "_", "." or "-" (at most 63)';
const nameSchema = z.string({ error: NAME_MSG }).regex(NAME, NAME_MSG);

/** A duration of 0 or more, in ms after parsing. */
const durationMs = (defaultMs: number) => durationAtLeast(0).default(defaultMs);

// ---------------------------------------------------------------------------
// Notification options (Nagios `notification_options`)

/** Service notification options: w(arning), u(nknown), c(ritical), r(ecovery), f(lapping), s(cheduled downtime). */
export const SERVICE_OPTIONS = ['w', 'u', 'c', 'r', 'f', 's'] as const;
export type ServiceOption = (typeof SERVICE_OPTIONS)[number];
/** Host notification options: d(own), u(nreachable), r(ecovery), f(lapping), s(cheduled downtime). */
export const HOST_OPTIONS = ['d', 'u', 'r', 'f', 's'] as const;
export type HostOption = (typeof HOST_OPTIONS)[number];

/** `"w,u,c,r"`, `[w, c]`, `n` or `[]` (none), as Nagios writes them; out: a sorted unique list. */
function optionsSchema<T extends string>(allowed: readonly T[]) {
  const msg = `expected notification options from ${allowed.join(',')} (e.g. "${allowed.join(',')}"), or n for none`;
  return z.union([z.string(), z.array(z.string())], { error: msg }).transform((v, ctx): T[] => {
    const words = (Array.isArray(v) ? v : v.split(',')).map((w) => w.trim()).filter((w) => w !== '');
    if (words.length === 1 && words[0] === 'n') return [];
    const out: T[] = [];
    for (const w of words) {
      if (!(allowed as readonly string[]).includes(w)) {
        ctx.addIssue({ code: 'custom', message: `${msg}; got ${JSON.stringify(w)}` });
        return z.NEVER;
      }
      if (!out.includes(w as T)) out.push(w as T);
    }
    return out;
  });
}

// ---------------------------------------------------------------------------
// Time periods

/** One weekday's ranges, minutes since midnight, [start, end) with end ≤ 1440. */
export type DayRanges = ReadonlyArray<readonly [number, number]>;

export const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;

const RANGES_MSG = 'expected time ranges such as "09:00-17:00" or "00:00-09:00, 17:00-24:00"';

function parseClock(s: string): number | undefined {
  const m = /^(\d{1,2}):(\d{2})$/.exec(s.trim());
  if (!m) return undefined;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (min > 59 || h > 24 || (h === 24 && min !== 0)) return undefined;
  return h * 60 + min;
}

/** Parses `"09:00-17:00, 18:00-20:00"` (or an array of such) into minute ranges; a message when invalid. */
export function parseDayRanges(spec: string | readonly string[]): DayRanges | string {
  const parts = (typeof spec === 'string' ? [spec] : spec).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  const out: Array<readonly [number, number]> = [];
  for (const p of parts) {
    const m = /^(.+?)\s*-\s*(.+)$/.exec(p);
    const a = m ? parseClock(m[1]!) : undefined;
    const b = m ? parseClock(m[2]!) : undefined;
    if (a === undefined || b === undefined) return `${RANGES_MSG}, got ${JSON.stringify(p)}`;
    if (b <= a) return `the range ${JSON.stringify(p)} ends before it starts (write two ranges to cross midnight: "22:00-24:00" and next day "00:00-06:00")`;
    out.push([a, b]);
  }
  return out;
}

const dayRangesSchema = z.union([z.string(), z.array(z.string())], { error: RANGES_MSG }).transform((v, ctx) => {
  const r = parseDayRanges(v);
  if (typeof r === 'string') {
    ctx.addIssue({ code: 'custom', message: r });
    return z.NEVER;
  }
  return r;
});

const timePeriodSchema = z.strictObject({
  /** Ranges on Sundays, local time of `monitor.timezone`; absent = none that day. */
  sunday: dayRangesSchema.optional(),
  monday: dayRangesSchema.optional(),
  tuesday: dayRangesSchema.optional(),
  wednesday: dayRangesSchema.optional(),
  thursday: dayRangesSchema.optional(),
  friday: dayRangesSchema.optional(),
  saturday: dayRangesSchema.optional(),
});

export type TimePeriodConfig = z.output<typeof timePeriodSchema>;

/** Periods every cluster file has: `24x7` (always), `workhours` (Monday-Friday 09:00-17:00), `none` (never). */
export const BUILTIN_PERIODS: Readonly<Record<string, TimePeriodConfig>> = {
  '24x7': Object.fromEntries(WEEKDAYS.map((d) => [d, [[0, 1440]]])),
  workhours: Object.fromEntries(['monday', 'tuesday', 'wednesday', 'thursday', 'friday'].map((d) => [d, [[540, 1020]]])),
  none: {},
};

// ---------------------------------------------------------------------------
// Contacts, escalations, dependencies

const E164_MSG = 'expected a phone number such as +15551234567';

const contactSchema = z.strictObject({
  /** E-mail address for the `email` channel. */
  email: z.email({ error: 'expected an e-mail address such as ops@example.com' }).optional(),
  /** Phone number for the `sms` channel, international form. */
  sms: z.string({ error: E164_MSG }).regex(/^\+?[0-9]{4,20}$/, E164_MSG).optional(),
  /** URL that receives a JSON POST per notification (the `webhook` channel). */
  webhook: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).optional(),
  /** Program and arguments run per notification, no shell; `{{host}}`-style placeholders are replaced in each argument. */
  command: z.array(z.string()).min(1, 'expected [program, args...]').optional(),
  /** Service notifications this contact receives (Nagios `service_notification_options`). Default w,u,c,r,f,s. */
  service_notification_options: optionsSchema(SERVICE_OPTIONS).default([...SERVICE_OPTIONS]),
  /** Host notifications this contact receives (Nagios `host_notification_options`). Default d,u,r,f,s. */
  host_notification_options: optionsSchema(HOST_OPTIONS).default([...HOST_OPTIONS]),
  /** When this contact may be notified (a time period name). Default 24x7. */
  notification_period: nameSchema.default('24x7'),
});

export type ContactConfig = z.output<typeof contactSchema>;

function escalationSchema<T extends string>(allowed: readonly T[]) {
  return z.strictObject({
    /** First notification number this escalation covers (1 = the first notification). */
    first_notification: z.number().int().min(1),
    /** Last notification number covered; 0 = every one from `first_notification` on. */
    last_notification: z.number().int().min(0),
    /** Contacts notified instead of the object's own while the escalation applies. */
    contacts: z.array(nameSchema).default([]),
    contact_groups: z.array(nameSchema).default([]),
    /** Re-notification interval while escalated, in ms; 0 = no more after this one. Default: the object's `notification_interval`. */
    notification_interval: durationAtLeast(0).optional(),
    /** When the escalation applies (a time period name). Default 24x7. */
    escalation_period: nameSchema.default('24x7'),
    /** States (and r for recovery) it applies to. Default all. */
    escalation_options: optionsSchema(allowed).default([...allowed]),
  });
}

export type EscalationConfig = z.output<ReturnType<typeof escalationSchema<string>>>;

const FAIL_ON = ['o', 'w', 'u', 'c'] as const;

const dependencySchema = z
  .union(
    [
      z.string(),
      z.strictObject({
        /** Host of the master service; default the same host. */
        host: nameSchema.optional(),
        service: nameSchema,
        /** Master states in which this service's notifications are suppressed (Nagios `notification_failure_criteria`): o, w, u, c. Default w,u,c. */
        fail_on: optionsSchema(FAIL_ON).default(['w', 'u', 'c']),
      }),
    ],
    { error: 'expected a service this one depends on: "service", "host/service" or { host, service, fail_on }' },
  )
  .transform((v, ctx) => {
    if (typeof v !== 'string') return v;
    const parts = v.split('/');
    if (parts.length > 2 || parts.some((p) => !NAME.test(p))) {
      ctx.addIssue({ code: 'custom', message: `expected "service" or "host/service", got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return parts.length === 2 ? { host: parts[0]!, service: parts[1]!, fail_on: ['w', 'u', 'c'] as Array<(typeof FAIL_ON)[number]> } : { host: undefined, service: parts[0]!, fail_on: ['w', 'u', 'c'] as Array<(typeof FAIL_ON)[number]> };
  });

export type DependencyConfig = z.output<typeof dependencySchema>;

const percent = (d: number) => z.number({ error: 'expected a percentage (0-100)' }).min(0).max(100).default(d);

/** What hosts and services share: intervals, attempts, notification settings. */
function checkedObjectShape<T extends string>(allowed: readonly T[]) {
  return {
    /** Time between checks in a hard state (and OK), in ms (Nagios `check_interval`). Default 5m. */
    check_interval: durationAtLeast(1_000).default(300_000),
    /** Time between re-checks while in a soft problem state, in ms (Nagios `retry_interval`). Default 1m. */
    retry_interval: durationAtLeast(1_000).default(60_000),
    /** Consecutive problem results before the state becomes HARD (count, 1-100). Default 3. */
    max_check_attempts: z.number().int().min(1).max(100).default(3),
    /** Contacts notified (names from `monitor.contacts`). Default none. */
    contacts: z.array(nameSchema).default([]),
    /** Contact groups notified (names from `monitor.contact_groups`). Default none. */
    contact_groups: z.array(nameSchema).default([]),
    /** Which notifications go out (Nagios `notification_options`). Default: all. */
    notification_options: optionsSchema(allowed).default([...allowed]),
    /** Repeat a problem notification this often while not OK, in ms; 0 = notify once. Default 60m. */
    notification_interval: durationMs(3_600_000),
    /** Wait this long after the last OK before the first problem notification, in ms. Default 0. */
    first_notification_delay: durationMs(0),
    /** When notifications may go out (a time period name). Default 24x7. */
    notification_period: nameSchema.default('24x7'),
    /** Send notifications at all. Default true. */
    notifications_enabled: z.boolean().default(true),
    /** Escalations by notification number (Nagios `serviceescalation` / `hostescalation`). Default none. */
    escalations: z.array(escalationSchema(allowed)).default([]),
    /** Detect flapping (Nagios `flap_detection_enabled`). Default true. */
    flap_detection: z.boolean().default(true),
    /** Flapping stops below this percent state change; default `monitor.flapping`'s. */
    low_flap_threshold: z.number().min(0).max(100).optional(),
    /** Flapping starts at or above this percent state change; default `monitor.flapping`'s. */
    high_flap_threshold: z.number().min(0).max(100).optional(),
  };
}

const serviceSchema = z.strictObject({
  /** The check: a plugin or a built-in (docs/monitoring-checks.md). */
  check: checkSchema,
  ...checkedObjectShape(SERVICE_OPTIONS),
  /** Services whose failure suppresses this one's notifications (Nagios `servicedependency`). Default none. */
  depends_on: z.array(dependencySchema).default([]),
});

export type MonitorServiceConfig = z.output<typeof serviceSchema>;

const hostSchema = z.strictObject({
  /** Address the checks target (IP or host name). */
  address: z.string({ error: 'expected an IP address or host name' }).min(1, 'expected an IP address or host name'),
  /** Hosts between the monitor and this one (Nagios `parents`): when all are down this host is UNREACHABLE, not DOWN. Default none. */
  parents: z.array(nameSchema).default([]),
  /** Where its checks run: `monitor` (the monitor itself) or the name of a node whose agent runs them. Default monitor. */
  run_on: nameSchema.default('monitor'),
  /** Host check; absent = the host is always UP (Nagios without `check_command`). OK and WARNING mean UP. */
  check: checkSchema.optional(),
  ...checkedObjectShape(HOST_OPTIONS),
  /** The host's services, by name. */
  services: z.record(nameSchema, serviceSchema).default({}),
});

export type MonitorHostConfig = z.output<typeof hostSchema>;

// ---------------------------------------------------------------------------
// Channels and delivery

const emailChannelSchema = z.strictObject({
  /** SMTP server host name or address. */
  host: z.string().min(1, 'expected the SMTP server host'),
  /** SMTP port. Default 587 (submission). */
  port: z.number().int().min(1).max(65535).default(587),
  /** `starttls` (upgrade required), `tls` (implicit TLS, port 465), or `none` (plain; loopback relays only). Default starttls. */
  security: z.enum(['starttls', 'tls', 'none']).default('starttls'),
  /** SMTP AUTH user; absent = no authentication. */
  user: z.string().optional(),
  /** SMTP AUTH password (use `${VAR}` substitution rather than writing it here). */
  password: z.string().optional(),
  /** Envelope and header sender. */
  from: z.string().min(3, 'expected a sender such as "Palisade <palisade@example.com>"'),
  /** Verify the server's certificate. Default true. */
  verify_certificate: z.boolean().default(true),
  /** Time limit for one delivery (connect to end of DATA), in ms. Default 30s. */
  timeout: durationAtLeast(1).default(30_000),
});

const SMS_CONTENT = ['form', 'json', 'text', 'xml'] as const;

const smsChannelSchema = z.strictObject({
  /** Provider URL; placeholders allowed (URL-encoded when filled). */
  url: z.string().min(1).refine((s) => /^https?:\/\//.test(s), 'expected an http:// or https:// URL'),
  /** HTTP method. Default POST. */
  method: z.enum(['POST', 'GET', 'PUT']).default('POST'),
  /** How `body` is encoded: each placeholder is escaped for it (form: URL-encoding; json: JSON string; xml: XML entities; text: as is). Default form. */
  content_type: z.enum(SMS_CONTENT).default('form'),
  /** Body template with {{host}} {{service}} {{state}} {{output}} {{number}} {{type}} {{to}} {{time}} {{message}}. Default `to={{to}}&text={{message}}`. */
  body: z.string().default('to={{to}}&text={{message}}'),
  /** Extra request headers (e.g. an Authorization token). Default none. */
  headers: z.record(z.string(), z.string()).default({}),
  /** Longest SMS text (`{{message}}` is cut to this), characters. Default 160. */
  max_length: z.number().int().min(10).max(2000).default(160),
  /** Time limit per request, in ms. Default 10s. */
  timeout: durationAtLeast(1).default(10_000),
});

const webhookChannelSchema = z
  .strictObject({
    /** Extra request headers. Default none. */
    headers: z.record(z.string(), z.string()).default({}),
    /** Time limit per request, in ms. Default 10s. */
    timeout: durationAtLeast(1).default(10_000),
  })
  .prefault({});

const commandChannelSchema = z
  .strictObject({
    /** Time limit per run, in ms; then its process group is killed. Default 30s. */
    timeout: durationAtLeast(1).default(30_000),
  })
  .prefault({});

const deliverySchema = z
  .strictObject({
    /** Tries per notification and contact, the first included. Default 5. */
    attempts: z.number().int().min(1).max(100).default(5),
    /** Wait before the first retry, in ms; doubled each time. Default 10s. */
    backoff: durationAtLeast(1).default(10_000),
    /** Longest wait between retries, in ms. Default 10m. */
    max_backoff: durationAtLeast(1).default(600_000),
    /** Deliveries waiting at most; beyond, the oldest is dropped and logged. Default 1000. */
    queue_size: z.number().int().min(1).default(1000),
    /** Deliveries in flight at once. Default 4. */
    concurrency: z.number().int().min(1).max(64).default(4),
  })
  .prefault({});

const flappingSchema = z
  .strictObject({
    /** Flap detection for every host and service (Nagios `enable_flap_detection`). Default true. */
    enabled: z.boolean().default(true),
    /** Service flapping stops below this percent state change (Nagios `low_service_flap_threshold`). Default 5. */
    low_service_threshold: percent(5),
    /** Service flapping starts at or above this percent (Nagios `high_service_flap_threshold`). Default 20. */
    high_service_threshold: percent(20),
    /** Host flapping stops below this percent. Default 5. */
    low_host_threshold: percent(5),
    /** Host flapping starts at or above this percent. Default 20. */
    high_host_threshold: percent(20),
  })
  .prefault({});

const storeSchema = z
  .strictObject({
    /** SQLite file for history, events and audit; relative to the runtime directory. Default monitor.db. */
    path: z.string().min(1).default('monitor.db'),
    /** Raw results and samples kept, in ms. Default 2 days. */
    raw_retention: durationAtLeast(60_000).default(2 * 86_400_000),
    /** 1-minute rollups kept, in ms. Default 2 days. */
    retention_1m: durationAtLeast(60_000).default(2 * 86_400_000),
    /** 5-minute rollups kept, in ms (the week view). Default 7 days. */
    retention_5m: durationAtLeast(300_000).default(7 * 86_400_000),
    /** 1-hour rollups kept, in ms (the month view). Default 32 days. */
    retention_1h: durationAtLeast(3_600_000).default(32 * 86_400_000),
    /** 6-hour rollups kept, in ms (the year view). Default 370 days. */
    retention_6h: durationAtLeast(21_600_000).default(370 * 86_400_000),
    /** Events and audit entries kept, in ms. Default 400 days. */
    event_retention: durationAtLeast(86_400_000).default(400 * 86_400_000),
    /** Writes are batched and committed at least this often, in ms. Default 1s. */
    flush_interval: durationAtLeast(10).default(1_000),
  })
  .prefault({});

const palisadeEventsSchema = z
  .strictObject({
    /** Who receives Palisade's own events (VRRP transitions, split brain, backends down/up, quorum lost). Default none. */
    contacts: z.array(nameSchema).default([]),
    contact_groups: z.array(nameSchema).default([]),
    /** Event kinds sent: vrrp (VRRP transitions), split_brain, backend (backend down / up), quorum; the event names vrrp_transition and backend_state are accepted too. Empty = all. Default all. */
    kinds: z
      .array(
        z.enum(['vrrp', 'vrrp_transition', 'split_brain', 'backend', 'backend_state', 'quorum'], { error: 'expected an event kind: vrrp, split_brain, backend or quorum' }).transform((k): string => (k === 'vrrp_transition' ? 'vrrp' : k === 'backend_state' ? 'backend' : k)),
      )
      .default([]),
  })
  .prefault({});

export const monitorSchema = z
  .strictObject({
    /** IANA time zone in which time periods are read, e.g. Europe/Paris. Default: the system's. */
    timezone: z
      .string()
      .refine((tz) => {
        try {
          return new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone !== '';
        } catch {
          return false;
        }
      }, 'expected an IANA time zone such as UTC or Europe/Paris')
      .optional(),
    flapping: flappingSchema,
    hosts: z.record(nameSchema, hostSchema).default({}),
    contacts: z.record(nameSchema, contactSchema).default({}),
    /** Named lists of contacts. */
    contact_groups: z.record(nameSchema, z.array(nameSchema)).default({}),
    /** Weekly time periods by name, besides the built-in 24x7, workhours and none. */
    time_periods: z.record(nameSchema, timePeriodSchema).default({}),
    channels: z
      .strictObject({
        email: emailChannelSchema.optional(),
        sms: smsChannelSchema.optional(),
        webhook: webhookChannelSchema,
        command: commandChannelSchema,
      })
      .prefault({}),
    delivery: deliverySchema,
    palisade_events: palisadeEventsSchema,
    store: storeSchema,
    /**
     * Keep the state logic's state across restarts (Nagios `retain_state_information`):
     * states, attempts, flap history, acknowledgements, downtime, notification
     * bookkeeping, in a JSON file beside the store. Default true.
     */
    retention: z.boolean().default(true),
    /** Retained state is written this often, in ms, besides at shutdown and after each operator action; 0 = only then (Nagios `retention_update_interval`). Default 60s. */
    retention_interval: durationAtLeast(0)
      .refine((ms) => ms === 0 || ms >= 1_000, 'expected 0 (write only at shutdown and after operator actions) or a duration of at least 1s')
      .default(60_000),
  })
  .superRefine((m, ctx) => {
    for (const p of monitorProblems(m)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
  });

export type MonitorConfig = z.output<typeof monitorSchema>;

export interface MonitorProblem {
  path: Array<string | number>;
  message: string;
}

function list(names: Iterable<string>): string {
  const a = [...names];
  return a.length === 0 ? 'none' : a.join(', ');
}

/** Cross-reference checks inside `monitor:`; paths are relative to it. */
export function monitorProblems(m: Omit<MonitorConfig, never>): MonitorProblem[] {
  const out: MonitorProblem[] = [];
  const periods = new Set([...Object.keys(BUILTIN_PERIODS), ...Object.keys(m.time_periods)]);
  for (const name of Object.keys(m.time_periods)) {
    if (name in BUILTIN_PERIODS) out.push({ path: ['time_periods', name], message: `${name} is a built-in time period; choose another name` });
  }
  const period = (path: Array<string | number>, name: string) => {
    if (!periods.has(name)) out.push({ path, message: `unknown time period ${JSON.stringify(name)}; known: ${list(periods)}` });
  };
  const contact = (path: Array<string | number>, name: string) => {
    if (!(name in m.contacts)) out.push({ path, message: `unknown contact ${JSON.stringify(name)}; declared contacts: ${list(Object.keys(m.contacts))}` });
  };
  const group = (path: Array<string | number>, name: string) => {
    if (!(name in m.contact_groups)) out.push({ path, message: `unknown contact group ${JSON.stringify(name)}; declared groups: ${list(Object.keys(m.contact_groups))}` });
  };
  for (const [g, members] of Object.entries(m.contact_groups)) members.forEach((c, i) => contact(['contact_groups', g, i], c));
  for (const [name, c] of Object.entries(m.contacts)) {
    period(['contacts', name, 'notification_period'], c.notification_period);
    if (c.email !== undefined && m.channels.email === undefined) out.push({ path: ['contacts', name, 'email'], message: 'an e-mail address needs monitor.channels.email (the SMTP server)' });
    if (c.sms !== undefined && m.channels.sms === undefined) out.push({ path: ['contacts', name, 'sms'], message: 'an SMS number needs monitor.channels.sms (the provider template)' });
  }
  const notifyRefs = (base: Array<string | number>, o: { contacts: string[]; contact_groups: string[]; notification_period: string; escalations: EscalationConfig[] }) => {
    o.contacts.forEach((c, i) => contact([...base, 'contacts', i], c));
    o.contact_groups.forEach((g, i) => group([...base, 'contact_groups', i], g));
    period([...base, 'notification_period'], o.notification_period);
    o.escalations.forEach((e, i) => {
      e.contacts.forEach((c, j) => contact([...base, 'escalations', i, 'contacts', j], c));
      e.contact_groups.forEach((g, j) => group([...base, 'escalations', i, 'contact_groups', j], g));
      period([...base, 'escalations', i, 'escalation_period'], e.escalation_period);
      if (e.last_notification !== 0 && e.last_notification < e.first_notification) out.push({ path: [...base, 'escalations', i, 'last_notification'], message: `expected 0 (no end) or a number ≥ first_notification (${e.first_notification})` });
    });
  };
  const flap = (base: Array<string | number>, o: { low_flap_threshold?: number | undefined; high_flap_threshold?: number | undefined }, low: number, high: number) => {
    if ((o.low_flap_threshold ?? low) > (o.high_flap_threshold ?? high)) out.push({ path: [...base, 'low_flap_threshold'], message: `the low flap threshold (${o.low_flap_threshold ?? low}) must not exceed the high one (${o.high_flap_threshold ?? high})` });
  };
  if (m.flapping.low_service_threshold > m.flapping.high_service_threshold) out.push({ path: ['flapping', 'low_service_threshold'], message: 'must not exceed high_service_threshold' });
  if (m.flapping.low_host_threshold > m.flapping.high_host_threshold) out.push({ path: ['flapping', 'low_host_threshold'], message: 'must not exceed high_host_threshold' });
  for (const [hn, h] of Object.entries(m.hosts)) {
    h.parents.forEach((p, i) => {
      if (p === hn) out.push({ path: ['hosts', hn, 'parents', i], message: 'a host cannot be its own parent' });
      else if (!(p in m.hosts)) out.push({ path: ['hosts', hn, 'parents', i], message: `unknown host ${JSON.stringify(p)}; declared hosts: ${list(Object.keys(m.hosts))}` });
    });
    notifyRefs(['hosts', hn], h);
    flap(['hosts', hn], h, m.flapping.low_host_threshold, m.flapping.high_host_threshold);
    for (const [sn, s] of Object.entries(h.services)) {
      notifyRefs(['hosts', hn, 'services', sn], s);
      flap(['hosts', hn, 'services', sn], s, m.flapping.low_service_threshold, m.flapping.high_service_threshold);
      s.depends_on.forEach((d, i) => {
        const dh = d.host ?? hn;
        const path = ['hosts', hn, 'services', sn, 'depends_on', i];
        if (!(dh in m.hosts)) out.push({ path, message: `unknown host ${JSON.stringify(dh)}; declared hosts: ${list(Object.keys(m.hosts))}` });
        else if (!(d.service in m.hosts[dh]!.services)) out.push({ path, message: `unknown service ${JSON.stringify(d.service)} on host ${dh}; its services: ${list(Object.keys(m.hosts[dh]!.services))}` });
        else if (dh === hn && d.service === sn) out.push({ path, message: 'a service cannot depend on itself' });
      });
    }
  }
  // Parent cycles: a host that reaches itself through `parents`.
  const state = new Map<string, 1 | 2>();
  const visit = (h: string, trail: string[]): void => {
    if (state.get(h) === 2) return;
    if (state.get(h) === 1) {
      out.push({ path: ['hosts', h, 'parents'], message: `parents form a cycle: ${[...trail.slice(trail.indexOf(h)), h].join(' → ')}` });
      return;
    }
    state.set(h, 1);
    for (const p of m.hosts[h]?.parents ?? []) if (p in m.hosts && p !== h) visit(p, [...trail, h]);
    state.set(h, 2);
  };
  for (const h of Object.keys(m.hosts)) visit(h, []);
  for (const [i, c] of m.palisade_events.contacts.entries()) contact(['palisade_events', 'contacts', i], c);
  for (const [i, g] of m.palisade_events.contact_groups.entries()) group(['palisade_events', 'contact_groups', i], g);
  return out;
}

/** Hosts whose `run_on` names no declared node (checked by the cluster schema, which knows the nodes). */
export function monitorNodeProblems(m: MonitorConfig | undefined, nodes: readonly string[]): MonitorProblem[] {
  if (m === undefined) return [];
  const out: MonitorProblem[] = [];
  for (const [hn, h] of Object.entries(m.hosts)) {
    if (h.run_on !== 'monitor' && !nodes.includes(h.run_on)) out.push({ path: ['monitor', 'hosts', hn, 'run_on'], message: `unknown node ${JSON.stringify(h.run_on)}; expected monitor or a declared node: ${list(nodes)}` });
  }
  return out;
}
