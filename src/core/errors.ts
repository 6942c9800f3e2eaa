/**
 * Every error Palisade raises or reports comes from here, with a stable code.
 *
 * `source` says who misbehaved: the client (downstream), a backend (upstream),
 * configuration, or Palisade itself. `retryable` says whether the same request may
 * safely be tried again on another backend.
 */

export type ErrorSource = 'downstream' | 'upstream' | 'config' | 'internal';

export type ErrorCode =
  | 'PALISADE_CONFIG_INVALID'
  | 'PALISADE_CONFIG_UNREADABLE'
  | 'PALISADE_NODE_UNKNOWN'
  | 'PALISADE_UPSTREAM_CONNECT'
  | 'PALISADE_UPSTREAM_CONNECT_TIMEOUT'
  | 'PALISADE_UPSTREAM_TIMEOUT'
  | 'PALISADE_UPSTREAM_RESET'
  | 'PALISADE_UPSTREAM_BAD_RESPONSE'
  | 'PALISADE_UPSTREAM_STATUS'
  | 'PALISADE_NO_BACKEND'
  | 'PALISADE_CLIENT_BAD_REQUEST'
  | 'PALISADE_CLIENT_TIMEOUT'
  | 'PALISADE_CLIENT_ABORTED'
  | 'PALISADE_CONTROL'
  /** The VRRP raw socket: the addon missing or not loading, no CAP_NET_RAW, no such interface. */
  | 'PALISADE_HA_RAW_SOCKET'
  /** The udp VRRP transport: bad peers, cannot bind, send failed. */
  | 'PALISADE_HA_UDP'
  /** Adding, removing or listing a VIP with iproute2 failed, or a VIP is malformed. */
  | 'PALISADE_HA_VIP'
  /** Gratuitous ARP (arping) failed. */
  | 'PALISADE_HA_GARP'
  /** A command Palisade runs (ip, arping, a tracker or resource) is missing, timed out or was cancelled. */
  | 'PALISADE_HA_COMMAND'
  /** nft is missing, lacks CAP_NET_ADMIN, refused a ruleset, or a firewall rollback failed. */
  | 'PALISADE_FIREWALL_NFT'
  /** The conntrack dump behind mode nat connection counts failed: no CAP_NET_ADMIN, no ctnetlink, the addon missing. */
  | 'PALISADE_KERNEL_CONNTRACK'
  /** Monitor ↔ agent: the agent refused (401 token, 404 check not in the cluster file), did not answer, or answered garbage; TLS material missing. */
  | 'PALISADE_AGENT'
  | 'PALISADE_INTERNAL';

export interface PalisadeErrorOptions {
  cause?: unknown;
  retryable?: boolean;
}

export class PalisadeError extends Error {
  readonly code: ErrorCode;
  readonly source: ErrorSource;
  readonly retryable: boolean;

  constructor(code: ErrorCode, source: ErrorSource, message: string, opts: PalisadeErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'PalisadeError';
    this.code = code;
    this.source = source;
    this.retryable = opts.retryable ?? false;
  }
}

/** One problem found in a cluster file: where it is and what was expected. */
export interface ConfigProblem {
  file: string;
  line: number;
  column: number;
  /** Dotted path such as `services.www.backends[1].port`; empty for the whole file. */
  path: string;
  message: string;
}

export function formatProblem(p: ConfigProblem): string {
  const where = `${p.file}:${p.line}:${p.column}`;
  return p.path ? `${where}: ${p.path}: ${p.message}` : `${where}: ${p.message}`;
}

/** The cluster file is invalid; carries every problem found, not just the first. */
export class ConfigError extends PalisadeError {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[]) {
    super(
      'PALISADE_CONFIG_INVALID',
      'config',
      problems.length === 1
        ? `invalid cluster file: ${formatProblem(problems[0]!)}`
        : `invalid cluster file: ${problems.length} problems`,
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * An upstream failure, classified the way nginx's `proxy_next_upstream` names them,
 * so that the retry policy can decide from `kind` alone.
 */
export type UpstreamFailureKind = 'error' | 'timeout' | 'invalid_header' | 'status';

export class UpstreamError extends PalisadeError {
  readonly kind: UpstreamFailureKind;
  /** True when no byte of the request reached the backend (safe to retry anything). */
  readonly beforeSend: boolean;
  constructor(code: ErrorCode, kind: UpstreamFailureKind, message: string, beforeSend: boolean, cause?: unknown) {
    super(code, 'upstream', message, { cause, retryable: beforeSend });
    this.name = 'UpstreamError';
    this.kind = kind;
    this.beforeSend = beforeSend;
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
