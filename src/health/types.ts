/**
 * The health module's contracts: one small `Check` interface with one file per
 * implementation (http.ts, tcp.ts, exec.ts, agent.ts), the result it returns, and
 * the states and events the rest of Palisade sees.
 */

/** Where a check connects, and which backend it speaks for. */
export interface CheckTarget {
  /** Backend identity key (`host:port`), for messages and the exec environment. */
  readonly id: string;
  /** Host or IP the check connects to: the check's `address`, else the backend's host. */
  readonly host: string;
  /** Port the check connects to: the check's `port`, else the backend's port. */
  readonly port: number;
  /** The backend's own host and port (traffic address), e.g. for a default Host header. */
  readonly backendHost: string;
  readonly backendPort: number;
}

/**
 * What a check found, named by the layer that failed (HAProxy `check-t.h` style):
 * L4 = TCP, L6 = TLS, L7 = the application protocol.
 */
export type CheckStatus =
  | 'L4_OK'
  | 'L4_CONNECT_REFUSED'
  | 'L4_TIMEOUT'
  | 'L4_RESET'
  | 'L4_UNREACHABLE'
  | 'L4_ERROR'
  | 'L6_TLS'
  | 'L6_TIMEOUT'
  | 'L7_OK'
  | 'L7_STATUS'
  | 'L7_BODY'
  | 'L7_EXPECT'
  | 'L7_RESPONSE'
  | 'L7_TIMEOUT'
  | 'EXEC_OK'
  | 'EXEC_EXIT'
  | 'EXEC_TIMEOUT'
  | 'EXEC_ERROR'
  | 'AGENT_OK'
  | 'AGENT_DOWN'
  | 'AGENT_DRAIN'
  | 'AGENT_MAINT'
  | 'INTERNAL';

/** A weight a backend reports about itself: absolute (exec `dynamic`) or a percentage of the configured weight (agent). */
export type DynamicWeight = { readonly absolute: number } | { readonly percent: number };

export interface CheckResult {
  /** True when the backend passed: it counts toward `rise`. */
  readonly ok: boolean;
  readonly status: CheckStatus;
  /** HTTP status for L7_STATUS / L7_OK, exit code for EXEC_*. */
  readonly code?: number;
  /** A short human explanation (error code, mismatch, agent message). */
  readonly detail?: string;
  /** Wall time the check took, in ms. */
  readonly durationMs: number;
  /** Weight reported by the backend; `null` = back to the configured weight; absent = unchanged. */
  readonly weight?: DynamicWeight | null;
  /** Administrative state requested by an agent: `ready` clears an earlier drain/maint. */
  readonly agentAdmin?: 'drain' | 'maint' | 'ready';
}

/** One active check; `run` never rejects: every failure is a `CheckResult`. */
export interface Check {
  readonly name: string;
  /** Runs one check; must stop and resolve promptly when `signal` aborts (timeout or shutdown). */
  run(target: CheckTarget, signal: AbortSignal): Promise<CheckResult>;
}

/** `L7_STATUS 503`, `EXEC_EXIT 2`, `L4_TIMEOUT`: the status with its code, as logs show it. */
export function describeResult(r: Pick<CheckResult, 'status' | 'code'>): string {
  return r.code === undefined ? r.status : `${r.status} ${r.code}`;
}

/**
 * A backend's state as the proxy must treat it:
 * `up` takes traffic; `drain` takes no new connections (existing and persistent ones
 * finish); `down` and `maint` take nothing. `maint` and `drain` are administrative.
 */
export type BackendState = 'up' | 'down' | 'drain' | 'maint';

/** What the operator sets: `up` clears an earlier `drain` / `maint`. */
export type AdminState = 'up' | 'drain' | 'maint';

/** What changed a backend's state. */
export type FlipSource = 'check' | 'operator' | 'agent' | 'passive';

/** A change of a backend's state; emitted only when the state really changes. */
export interface FlipEvent {
  readonly service: string;
  /** Backend identity key (`host:port`). */
  readonly backend: string;
  readonly from: BackendState;
  readonly to: BackendState;
  readonly source: FlipSource;
  /** Why, as a user reads it: `L7_STATUS 503 (3 consecutive failures)`, `operator drain`, `5 consecutive 5xx`. */
  readonly reason: string;
  /** Effective weight at the time of the flip (slow start included). */
  readonly weight: number;
  /** Clock time of the flip, in ms. */
  readonly at: number;
}

export interface WeightEvent {
  readonly service: string;
  readonly backend: string;
  /** New effective weight: configured × dynamic × slow start. May be fractional. */
  readonly weight: number;
  readonly at: number;
}

export interface QuorumEvent {
  readonly service: string;
  /** True = quorum gained (keepalived `quorum_up`), false = lost (`quorum_down`). */
  readonly up: boolean;
  /** Sum of the weights of the up backends. */
  readonly sum: number;
  readonly quorum: number;
  readonly at: number;
}

export interface PanicEvent {
  readonly service: string;
  /** True: spread traffic over all non-administratively-disabled backends, ignoring health. */
  readonly panic: boolean;
  readonly healthy: number;
  readonly total: number;
  readonly at: number;
}
