/**
 * From configuration to what the HealthMonitor watches, and the identity keys that
 * let a reload keep the state of unchanged checks (keepalived `migrate_checkers()`).
 */
import { createHash } from 'node:crypto';
import type { BackendHealthOverride, HealthConfig, OutlierConfig } from '../config/health-schema.ts';
import type { CheckTarget } from './types.ts';

/** One backend of one service, as the monitor watches it. */
export interface HealthTarget {
  /** Backend identity key (`host:port`), unique within its service. */
  readonly backend: string;
  readonly host: string;
  readonly port: number;
  /** Configured weight. */
  readonly weight: number;
  /** The backend's active check (service check + override), or undefined for none: it counts as up. */
  readonly check: HealthConfig | undefined;
  /** Per-backend nginx `max_fails` / `fail_timeout` (ms) for passive detection; default the service's. */
  readonly max_fails?: number | undefined;
  readonly fail_timeout?: number | undefined;
}

/** Everything the monitor needs about one service. */
export interface ServiceHealthSpec {
  readonly name: string;
  readonly targets: readonly HealthTarget[];
  /** Quorum options (from the service's `health:`); undefined = no quorum tracking. */
  readonly quorum?: { readonly quorum: number; readonly hysteresis: number } | undefined;
  /** Passive detection and panic (`passive:`); undefined = none. */
  readonly passive?: OutlierConfig | undefined;
}

/** The fields of a backend config this module reads (structurally the config's backend). */
export interface BackendLike {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  readonly health?: BackendHealthOverride | undefined;
  readonly max_fails?: number | undefined;
  readonly fail_timeout?: number | undefined;
}

/** The fields of a service config this module reads. */
export interface ServiceLike {
  readonly health?: HealthConfig | undefined;
  readonly passive?: OutlierConfig | undefined;
  readonly backends: readonly BackendLike[];
}

/** Builds a service's spec from its (validated) configuration. */
export function serviceHealthSpec(name: string, svc: ServiceLike): ServiceHealthSpec {
  return {
    name,
    targets: svc.backends.map((b) => ({
      backend: b.id,
      host: b.host,
      port: b.port,
      weight: b.weight,
      check: resolveBackendCheck(svc.health, b.health),
      max_fails: b.max_fails,
      fail_timeout: b.fail_timeout,
    })),
    quorum: svc.health ? { quorum: svc.health.quorum, hysteresis: svc.health.quorum_hysteresis } : undefined,
    passive: svc.passive,
  };
}

/**
 * The check of one backend: the service's check with the backend's override applied,
 * or undefined for none (`enabled: false`, or no service check). The override must
 * have passed `healthOverrideProblems` (the cluster schema's cross-field check).
 */
export function resolveBackendCheck(service: HealthConfig | undefined, override: BackendHealthOverride | undefined): HealthConfig | undefined {
  if (override === undefined) return service;
  if (override.enabled === false || service === undefined) return undefined;
  const fields = Object.fromEntries(Object.entries(override).filter(([k, v]) => k !== 'enabled' && v !== undefined));
  return { ...service, ...fields } as HealthConfig;
}

/** Options that say how often and how strictly to check, not what: changing them keeps a check's state. */
const TIMING_KEYS = new Set(['interval', 'fast_interval', 'down_interval', 'timeout', 'rise', 'fall', 'jitter', 'start', 'slow_start', 'quorum', 'quorum_hysteresis']);

function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .toSorted(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stable(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * Identity of what a check probes (type, address, port, path, expectations,
 * command, ...), as a short hash; `none` for no check. Timing options are left out.
 */
export function checkIdentity(check: HealthConfig | undefined): string {
  if (check === undefined) return 'none';
  const probe = Object.fromEntries(Object.entries(check).filter(([k]) => !TIMING_KEYS.has(k)));
  return createHash('sha256').update(stable(probe)).digest('hex').slice(0, 16);
}

/** Where the check of a target connects. */
export function checkTargetOf(t: HealthTarget): CheckTarget {
  return {
    id: t.backend,
    host: t.check?.address ?? t.host,
    port: t.check?.port ?? t.port,
    backendHost: t.host,
    backendPort: t.port,
  };
}
