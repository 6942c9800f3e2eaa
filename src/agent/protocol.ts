/**
 * The monitor ↔ agent protocol (HTTPS, JSON), pure parts: paths, the token
 * comparison, and validating a check result that came over the wire (a peer may
 * send anything; a bad result is refused with the reason, never trusted).
 *
 * - `POST /v1/run/HOST` and `POST /v1/run/HOST/SERVICE` (monitor → agent): run the
 *   check the cluster file defines for that host or service; the request carries
 *   names only, never arguments (NRPE's `dont_blame_nrpe` problem). 200 with the
 *   result, 404 when this node has no such check.
 * - `POST /v1/results` (agent → monitor, push mode): `{ node, results: [{ host,
 *   service?, result }] }`; the monitor takes a result only for a host whose `run_on`
 *   is that node.
 * - Node API (any node whose cluster file has `agent:`; src/app/peers.ts): `GET
 *   /v1/status` (DaemonStatus), `POST /v1/backend` (`{ service, backend, action,
 *   weight? }` → the control socket's answer `{ ok, message? , error? }`), `GET
 *   /v1/events?after=SEQ` (`{ boot, last, missed, events: [{ seq, event }] }`).
 * Every request carries `Authorization: Bearer TOKEN`; a wrong or missing token is
 * 401 before anything else happens.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { EventSeverity, PalisadeEvent, PalisadeEventKind } from '../core/events.ts';
import { CODE_BY_STATE, type CheckResult, type CheckState, type PerfDatum } from '../core/check-result.ts';

export const RUN_PREFIX = '/v1/run/';
export const RESULTS_PATH = '/v1/results';
/** Node API (any node whose cluster file has `agent:`): the daemon's status. */
export const STATUS_PATH = '/v1/status';
/** Node API: Palisade events after a sequence number, `?after=SEQ`. */
export const EVENTS_PATH = '/v1/events';
/** Node API: an operator action on a backend (drain, maint, enable, weight). */
export const BACKEND_PATH = '/v1/backend';

/** `/v1/events?after=3` → [`/v1/events`, `after=3`]. */
export function splitUrl(url: string): [path: string, query: string] {
  const q = url.indexOf('?');
  return q < 0 ? [url, ''] : [url.slice(0, q), url.slice(q + 1)];
}

/** The `after` of a query string: a whole number ≥ 0 (absent = 0); undefined when malformed. */
export function parseAfter(query: string): number | undefined {
  const v = new URLSearchParams(query).get('after');
  if (v === null || v === '') return 0;
  if (!/^\d{1,15}$/.test(v)) return undefined;
  return Number(v);
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** `/v1/run/web1/http` → { host: web1, service: http }; undefined when not a run path or a name is malformed. */
export function parseRunPath(path: string): { host: string; service?: string } | undefined {
  if (!path.startsWith(RUN_PREFIX)) return undefined;
  const parts = path.slice(RUN_PREFIX.length).split('/');
  if (parts.length < 1 || parts.length > 2) return undefined;
  let names: string[];
  try {
    names = parts.map((p) => decodeURIComponent(p));
  } catch {
    return undefined;
  }
  if (!names.every((n) => NAME.test(n))) return undefined;
  return names.length === 1 ? { host: names[0]! } : { host: names[0]!, service: names[1]! };
}

export function runPath(host: string, service: string | undefined): string {
  return `${RUN_PREFIX}${encodeURIComponent(host)}${service === undefined ? '' : `/${encodeURIComponent(service)}`}`;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Compares the request's `Authorization` header with the token in constant time. */
export function tokenMatches(header: string | undefined, tokenDigest: Buffer): boolean {
  if (header === undefined) return false;
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  if (m === null) return false;
  return timingSafeEqual(digest(m[1]!), tokenDigest);
}

export function tokenDigestOf(token: string): Buffer {
  return digest(token);
}

const STATES = new Set<CheckState>(['OK', 'WARNING', 'CRITICAL', 'UNKNOWN']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function perfdatum(v: unknown): PerfDatum | undefined {
  if (!isRecord(v) || typeof v.label !== 'string' || typeof v.value !== 'number' || typeof v.uom !== 'string') return undefined;
  const p: PerfDatum = { label: v.label, value: v.value, uom: v.uom };
  if (typeof v.warn === 'string') p.warn = v.warn;
  if (typeof v.crit === 'string') p.crit = v.crit;
  if (typeof v.min === 'number') p.min = v.min;
  if (typeof v.max === 'number') p.max = v.max;
  return p;
}

/** Longest summary / long output accepted from a peer, characters (far above any plugin's max_output). */
const MAX_TEXT = 1_048_576;

/** A check result from the wire, or why it is not one. */
export function parseResult(v: unknown): CheckResult | string {
  if (!isRecord(v)) return 'expected a JSON object';
  if (typeof v.state !== 'string' || !STATES.has(v.state as CheckState)) return 'expected state OK, WARNING, CRITICAL or UNKNOWN';
  if (typeof v.summary !== 'string' || v.summary.length > MAX_TEXT) return 'expected summary as a string';
  const longOutput = v.longOutput ?? '';
  if (typeof longOutput !== 'string' || longOutput.length > MAX_TEXT) return 'expected longOutput as a string';
  if (v.perfdata !== undefined && !Array.isArray(v.perfdata)) return 'expected perfdata as a list';
  const perfdata: PerfDatum[] = [];
  for (const p of (v.perfdata as unknown[] | undefined) ?? []) {
    const d = perfdatum(p);
    if (d === undefined) return 'expected each perfdata item as { label, value, uom }';
    perfdata.push(d);
  }
  const state = v.state as CheckState;
  return {
    state,
    code: CODE_BY_STATE[state],
    summary: v.summary,
    longOutput,
    perfdata,
    startedAt: typeof v.startedAt === 'number' && Number.isFinite(v.startedAt) ? v.startedAt : Date.now(),
    durationMs: typeof v.durationMs === 'number' && Number.isFinite(v.durationMs) ? v.durationMs : 0,
  };
}

/** One pushed result. */
export interface PushedResult {
  host: string;
  service?: string;
  result: CheckResult;
}

/** A push body, or why it is not one. */
export function parsePush(v: unknown): { node: string; results: PushedResult[] } | string {
  if (!isRecord(v) || typeof v.node !== 'string' || !NAME.test(v.node)) return 'expected { node, results: [...] }';
  if (!Array.isArray(v.results)) return 'expected results as a list';
  const results: PushedResult[] = [];
  for (const [i, item] of (v.results as unknown[]).entries()) {
    if (!isRecord(item) || typeof item.host !== 'string' || !NAME.test(item.host) || (item.service !== undefined && (typeof item.service !== 'string' || !NAME.test(item.service)))) return `results[${i}]: expected { host, service?, result }`;
    const r = parseResult(item.result);
    if (typeof r === 'string') return `results[${i}].result: ${r}`;
    results.push({ host: item.host, ...(item.service !== undefined && { service: item.service as string }), result: r });
  }
  return { node: v.node, results };
}

/** A peer's answer to `GET /v1/events`, validated (EventBus.since's shape). */
export interface EventsAnswer {
  boot: string;
  last: number;
  missed: number;
  events: Array<{ seq: number; event: PalisadeEvent }>;
}

const EVENT_KINDS = new Set<PalisadeEventKind>(['vrrp_transition', 'split_brain', 'backend_state', 'quorum']);
const SEVERITIES = new Set<EventSeverity>(['info', 'warning', 'critical']);
/** Longest text field of a peer's event, characters (the daemon's own lines are far shorter). */
const MAX_EVENT_TEXT = 4_096;

function text(v: unknown): v is string {
  return typeof v === 'string' && v.length <= MAX_EVENT_TEXT;
}

function wholeNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** One event from the wire, or why it is not one; `fields` keeps only string, number and boolean values. */
export function parseEvent(v: unknown): PalisadeEvent | string {
  if (!isRecord(v)) return 'expected an event object';
  if (typeof v.kind !== 'string' || !EVENT_KINDS.has(v.kind as PalisadeEventKind)) return 'expected kind vrrp_transition, split_brain, backend_state or quorum';
  if (typeof v.time !== 'number' || !Number.isFinite(v.time)) return 'expected time in ms';
  if (typeof v.severity !== 'string' || !SEVERITIES.has(v.severity as EventSeverity)) return 'expected severity info, warning or critical';
  if (!text(v.subject) || !text(v.state) || !text(v.message) || !text(v.node)) return 'expected subject, state, message and node as strings';
  const fields: Record<string, string | number | boolean> = {};
  if (isRecord(v.fields)) {
    for (const [k, f] of Object.entries(v.fields)) if ((typeof f === 'string' && f.length <= MAX_EVENT_TEXT) || typeof f === 'number' || typeof f === 'boolean') fields[k] = f;
  }
  return { kind: v.kind as PalisadeEventKind, time: v.time, subject: v.subject, state: v.state, severity: v.severity as EventSeverity, message: v.message, node: v.node, fields };
}

/** A `GET /v1/events` answer, or why it is not one (one bad event refuses the whole answer). */
export function parseEventsAnswer(v: unknown): EventsAnswer | string {
  if (!isRecord(v) || typeof v.boot !== 'string' || v.boot === '' || v.boot.length > 200) return 'expected { boot, last, missed, events }';
  if (!wholeNumber(v.last) || !wholeNumber(v.missed)) return 'expected last and missed as whole numbers';
  if (!Array.isArray(v.events)) return 'expected events as a list';
  const events: EventsAnswer['events'] = [];
  let prev = 0;
  for (const [i, item] of (v.events as unknown[]).entries()) {
    if (!isRecord(item) || !wholeNumber(item.seq) || item.seq <= prev || item.seq > v.last) return `events[${i}]: expected { seq, event } with seq rising, at most last`;
    const e = parseEvent(item.event);
    if (typeof e === 'string') return `events[${i}].event: ${e}`;
    events.push({ seq: item.seq, event: e });
    prev = item.seq;
  }
  return { boot: v.boot, last: v.last, missed: v.missed, events };
}
