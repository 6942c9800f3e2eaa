/**
 * The retained state of the Nagios state logic (Nagios Core `retention.dat`,
 * `retain_state_information`): what survives a restart of the daemon. Per host and
 * service (by its key, `host` or `host/service`): state, state type and attempt, the
 * times, output, flap history, acknowledgement and the notification bookkeeping;
 * every scheduled downtime, pending ones and triggered relations included.
 *
 * Pure: the format, its version and its validation. The engine exports and imports
 * a snapshot (`MonitorEngine.exportState` / `importState`); the daemon reads and
 * writes the file (src/app/monitor-retention.ts). Times are ms since the epoch.
 */
import { z } from 'zod';
import { FLAP_HISTORY } from './flapping.ts';
import type { DowntimeRequest } from './engine.ts';
import type { Acknowledgement, AnyState, ObjectStatus } from './types.ts';

/** The format version this code writes and reads; a file with a newer one is refused. */
export const RETENTION_VERSION = 1;

/** One host's or service's retained status: the engine's status as it was. */
export type RetainedStatus = Omit<ObjectStatus, 'ack'> & { ack?: Acknowledgement };

/** One retained downtime, pending (`startedAt` absent) or running. */
export interface RetainedDowntime extends DowntimeRequest {
  id: number;
  startedAt?: number;
}

export interface RetentionSnapshot {
  version: typeof RETENTION_VERSION;
  /** When the snapshot was taken. */
  saved: number;
  /** The next downtime id, so that ids are not reused after a restart (Nagios `next_downtime_id`). */
  nextDowntimeId: number;
  /** By object key: `host` or `host/service`. */
  checks: Record<string, RetainedStatus>;
  downtimes: RetainedDowntime[];
}

const STATES = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN', 'UP', 'DOWN', 'UNREACHABLE'] as const satisfies readonly AnyState[];
const state = z.enum(STATES);
const time = z.number().finite();
const count = z.number().int().min(0);

const ackSchema = z.object({ sticky: z.boolean(), author: z.string(), comment: z.string(), time });

// Plain (not strict) objects: a later version 1 writer may add a field that this reader ignores.
const statusSchema = z.object({
  state,
  stateType: z.enum(['SOFT', 'HARD']),
  attempt: z.number().int().min(1),
  lastHardState: state,
  lastCheck: time,
  nextCheck: time,
  lastStateChange: time,
  lastHardStateChange: time,
  lastTimeOk: time,
  output: z.string(),
  flapHistory: z.array(z.number().int().min(0).max(3)).min(1).max(FLAP_HISTORY),
  isFlapping: z.boolean(),
  percentStateChange: z.number().min(0).max(100),
  ack: ackSchema.optional(),
  notificationNumber: count,
  lastNotification: time,
  nextNotification: time,
  noMoreNotifications: z.boolean(),
  notifiedOn: z.array(state),
  recoveryHeld: z.boolean(),
});

const downtimeSchema = z.object({
  id: z.number().int().min(1),
  ref: z.object({ host: z.string().min(1), service: z.string().min(1).optional() }),
  start: time,
  end: time,
  fixed: z.boolean(),
  duration: z.number().positive().optional(),
  triggeredBy: z.number().int().min(1).optional(),
  author: z.string(),
  comment: z.string(),
  startedAt: time.optional(),
});

const snapshotSchema = z.object({
  version: z.literal(RETENTION_VERSION),
  saved: time,
  nextDowntimeId: z.number().int().min(1),
  checks: z.record(z.string(), statusSchema),
  downtimes: z.array(downtimeSchema),
});

export type RetentionParse = { ok: true; snapshot: RetentionSnapshot } | { ok: false; reason: string };

/** `checks["web1/http"].attempt` */
function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (typeof p === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(p)) out += out === '' ? p : `.${p}`;
    else out += `[${JSON.stringify(String(p))}]`;
  }
  return out;
}

/**
 * Reads a retention file's text: the snapshot, or why it is refused (not JSON, no
 * version, a newer version, a field of the wrong kind — named by its path).
 */
export function parseRetention(text: string): RetentionParse {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `not JSON (${err instanceof Error ? err.message : String(err)})` };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { ok: false, reason: 'not a retention file (expected a JSON object)' };
  const version = (data as { version?: unknown }).version;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) return { ok: false, reason: `not a retention file (no format version; expected "version": ${RETENTION_VERSION})` };
  if (version > RETENTION_VERSION) return { ok: false, reason: `format version ${version} is newer than this Palisade reads (${RETENTION_VERSION}); written by a later release` };
  const r = snapshotSchema.safeParse(data);
  if (!r.success) {
    const issues = r.error.issues;
    const first = issues.slice(0, 3).map((i) => `${pathText(i.path) || '(top)'}: ${i.message}`);
    return { ok: false, reason: `${first.join('; ')}${issues.length > 3 ? ` (and ${issues.length - 3} more)` : ''}` };
  }
  return { ok: true, snapshot: r.data as RetentionSnapshot };
}

/** The file's text for a snapshot: compact JSON (`jq .` reads it), ending with a newline. */
export function formatRetention(s: RetentionSnapshot): string {
  return `${JSON.stringify(s)}\n`;
}
