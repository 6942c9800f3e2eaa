/**
 * The scheduler interface: one small contract, one file per algorithm.
 *
 * A scheduler proposes a backend; it does not know about health. Health flips reach
 * it as `up` / `down` calls (pushed, never polled), weight changes as `weight`, and
 * per-request exclusions (already tried, full, passively failed) through
 * `PickContext.accept`.
 */

/** A backend as every scheduler sees it. The proxy owns the object and its counters. */
export interface Backend {
  /** Identity key, stable across reloads: `host:port`. */
  readonly id: string;
  /** Position in its group, in the order of the cluster file. */
  readonly index: number;
  readonly host: string;
  readonly port: number;
  /** Configured weight (0 = gets no new connections). */
  readonly weight: number;
  /** Maximum concurrent connections; 0 = unlimited. */
  readonly maxConns: number;
  /** Connections (or requests) in flight to this backend, kept by the proxy. */
  active: number;
  /** Idle connections held open to this backend (LVS's "inactive"), kept by the proxy. */
  inactive: number;
}

export interface PickContext {
  /** Client address (IPv4 dotted quad or IPv6 text), without port. */
  readonly client: string;
  /** Client source port. */
  readonly clientPort: number;
  /** Destination address:port of the service (for `dh`, `lblc`, `lblcr`). */
  readonly destination: string;
  /** Key for key-hashing schedulers (`hash`), computed by the caller from its spec (see `hashKeySpec`). */
  readonly key?: string;
  /** When given, only backends for which it returns true may be picked. */
  readonly accept?: (b: Backend) => boolean;
}

export interface Scheduler {
  readonly name: string;
  /** A backend for a new connection or request, or undefined when none is usable. Never throws. */
  pick(ctx: PickContext): Backend | undefined;
  /** The backend is available again (health check passed, operator enabled it). */
  up(b: Backend): void;
  /** The backend must get no new connections. */
  down(b: Backend): void;
  /** Sets the effective weight (slow start, dynamic weights); 0 stops new connections. */
  weight(b: Backend, weight: number): void;
  /** Feedback after a request/connection finished: its duration in ms and outcome. Optional. */
  observe?(b: Backend, ms: number, ok: boolean): void;
  /**
   * Whether the scheduler would consider `b` at all: it is up and its effective
   * weight is above 0. Says nothing about `max_conns` or `accept`. Persistence and
   * sticky cookies ask this before reusing a remembered backend. Optional.
   */
  available?(b: Backend): boolean;
}

/** A source of random numbers in [0, 1); injectable for deterministic tests. */
export type Random = () => number;
