/**
 * Runtime state of a layer-4 service (tcp or udp) and its backends: the same
 * schedulers and persistence table as the HTTP proxy (src/balancer), health pushed
 * in as calls, connection counts kept the LVS way (active / inactive). Backends are
 * keyed by identity (`host:port`) so that a reload keeps the state and counters of
 * unchanged ones, and their open connections.
 */
import type { Backend, PickContext, Scheduler } from '../../balancer/index.ts';
import type { BackendConfig, TcpServiceConfig, UdpServiceConfig } from '../../config/schema.ts';
import type { BackendState, PassiveOutcome } from '../../health/index.ts';
import { BackendCore, ServiceCore } from '../backends.ts';

export type L4ServiceConfig = TcpServiceConfig | UdpServiceConfig;

/** Something using a backend that can be cut (`on_down: shutdown-sessions`): a TCP connection or a UDP flow. */
export interface L4User {
  destroy(): void;
}

export class L4Backend extends BackendCore {
  // `active`: TCP connections connecting or established both ways (LVS ActiveConn);
  // `inactive`: TCP connections half-closed (one FIN seen), UDP flows (LVS InActConn).
  /** Open connections / flows; cut on down with `on_down: shutdown-sessions`. */
  readonly users = new Set<L4User>();
  /** Connections (tcp) or flows (udp) it was given. */
  connections = 0;

  reconfigure(cfg: BackendConfig, index: number): void {
    this.reconfigureCore(cfg, index);
  }

  /** Can take a new connection: config, state, `max_conns` (active + inactive, as LVS's upper threshold). */
  usable(panic: boolean): boolean {
    return !this.configDown && (this.state === 'up' || (panic && this.state === 'down')) && (this.maxConns === 0 || this.active + this.inactive < this.maxConns);
  }

  status(): BackendState | 'full' {
    if (this.configDown) return 'down';
    if (this.state !== 'up') return this.state;
    if (this.maxConns !== 0 && this.active + this.inactive >= this.maxConns) return 'full';
    return 'up';
  }
}

interface MutablePickContext {
  client: string;
  clientPort: number;
  destination: string;
  accept: (b: Backend) => boolean;
}

export class L4Service extends ServiceCore<L4Backend> {
  config: L4ServiceConfig;
  #exclude: readonly L4Backend[] = [];
  readonly #ctx: MutablePickContext;
  /** Where passive outcomes go (the health monitor). */
  onOutcome: ((service: string, backend: string, outcome: PassiveOutcome) => void) | undefined;
  // Counters.
  connections = 0;
  noBackend = 0;

  constructor(name: string, config: L4ServiceConfig) {
    super(name);
    this.config = config;
    this.#ctx = {
      client: '',
      clientPort: 0,
      destination: '',
      accept: (b) => (b as L4Backend).usable(this.panic) && !this.#exclude.includes(b as L4Backend),
    };
    this.apply(config);
  }

  /** Applies a (re)loaded config; unchanged backends (by id) keep state, counters and connections. Returns the removed ones. */
  apply(config: L4ServiceConfig): L4Backend[] {
    this.config = config;
    return this.applyBackends(config);
  }

  protected newBackend(cfg: BackendConfig, index: number): L4Backend {
    return new L4Backend(cfg, index);
  }

  protected reconfigureBackend(b: L4Backend, cfg: BackendConfig, index: number): void {
    b.reconfigure(cfg, index);
  }

  protected cutSessions(b: L4Backend): void {
    if (this.config.on_down !== 'shutdown-sessions') return;
    for (const u of b.users) u.destroy(); // each leaves the set as it ends (deleting while iterating a Set is safe)
  }

  /** One connection attempt's outcome, for passive detection; a success only after failures. */
  report(b: L4Backend, outcome: PassiveOutcome): void {
    if (outcome !== 'ok') {
      b.failStreak++;
      b.failures++;
    } else {
      if (b.failStreak === 0) return;
      b.failStreak = 0;
    }
    const cb = this.onOutcome;
    if (cb !== undefined) queueMicrotask(() => cb(this.name, b.id, outcome));
  }

  /** A backend for a new connection or flow: primaries, then backups; the sorry server while the quorum is lost. */
  pick(client: string, clientPort: number, destination: string, exclude: readonly L4Backend[]): L4Backend | undefined {
    if (this.quorumLost) return this.sorryFor(exclude);
    const ctx = this.#ctx;
    ctx.client = client;
    ctx.clientPort = clientPort;
    ctx.destination = destination;
    this.#exclude = exclude;
    const b = (this.#pickFrom(this.primarySched) ?? this.#pickFrom(this.backupSched)) as L4Backend | undefined;
    this.#exclude = [];
    return b;
  }

  #pickFrom(sched: Scheduler): Backend | undefined {
    const ctx = this.#ctx as PickContext;
    if (this.persist !== undefined) return this.persist.pick(ctx, sched);
    return sched.pick(ctx);
  }

  /** Backends that could be tried at all (for the number of connect tries). */
  get usableCount(): number {
    let n = 0;
    for (const b of this.byId.values()) if (b.usable(this.panic)) n++;
    return n;
  }

  /** Feedback for response-time schedulers. */
  observe(b: L4Backend, ms: number, ok: boolean): void {
    this.schedFor(b).observe?.(b, ms, ok);
  }
}
