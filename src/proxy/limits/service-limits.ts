/**
 * The limits of one service, decided in pure code: connections opened and closed,
 * request heads accounted, each answering with a number the connection acts on.
 * The clock is the caller's (ms). One instance per service per worker process.
 */
import type { LimitsConfig } from '../../config/limits-schema.ts';
import { CidrSet } from './cidr.ts';
import { ClientTable, type ClientEntry } from './client-table.ts';
import { limitReq, REQ_REFUSED, type BucketParams } from './leaky-bucket.ts';
import { realClientAddress } from './real-ip.ts';
import { LogSampler } from '../../core/log-sampler.ts';
import type { BucketWaiter, RedisBuckets } from './redis-buckets.ts';

/** `request` result: the bucket is in Redis; call `askShared` and wait for the waiter's reply. */
export const REQ_SHARED = Number.MAX_SAFE_INTEGER;

/** `open` result: close the connection at once without an answer. */
export const REFUSE_CLOSE = -1;

/** Why a connection or request was refused, as counted and logged. */
export type RefusalReason = 'limit_conn' | 'limit_conn_total' | 'limit_req' | 'deny';

/** What the limits keep on each client connection. */
export interface LimitedConn {
  readonly remoteAddress: string;
  /** The client-table entry this connection is counted in (per-client limit_conn), else null. */
  limitEntry: ClientEntry | null;
  /** Counted in the service's open connections. */
  limitCounted: boolean;
  /** The peer is a trusted proxy (real_ip_from): per-request checks use X-Forwarded-For. */
  limitTrusted: boolean;
}

export interface LimitCounters {
  /** Refused: per-client limit_conn. */
  conn: number;
  /** Refused: the service's total limit_conn. */
  connTotal: number;
  /** Refused: limit_req. */
  req: number;
  /** Refused: allow / deny (403). */
  deny: number;
}

export interface LimitsSnapshot {
  /** Client addresses in the table now, and its cap. */
  clients: number;
  tableSize: number;
  /** Clients forgotten to stay within the cap. */
  evictions: number;
  /** Open connections counted by limit_conn. */
  connections: number;
  /** Requests delayed by limit_req (burst without nodelay). */
  delayed: number;
  refused: LimitCounters;
  /** With `store: redis`: connected now, requests passed because Redis could not decide, the last problem. */
  shared?: { ready: boolean; failOpen: number; lastProblem: string };
}

function cidr(items: readonly string[]): CidrSet {
  const r = CidrSet.parse(items);
  // The schema validated the lists; a failure here is a bug, not a user error.
  if (!(r instanceof CidrSet)) throw new Error(`invalid CIDR ${JSON.stringify(items[r.index])}: ${r.message}`);
  return r;
}

export class ServiceLimits {
  config!: LimitsConfig;
  readonly table: ClientTable;
  #allow = CidrSet.EMPTY;
  #deny = CidrSet.EMPTY;
  #trusted = CidrSet.EMPTY;
  #bucket: BucketParams | undefined;
  #reqStatus = 429;
  #perClient = 0;
  #total = 0;
  #connStatus = 503;
  /** Any check at all on connections or requests (false: the proxy skips every call). */
  active = false;
  /** Bytes per second of each response, 0 = none; and the bytes sent before it applies. */
  rate = 0;
  rateAfter = 0;
  connections = 0;
  delayed = 0;
  readonly refused: LimitCounters = { conn: 0, connTotal: 0, req: 0, deny: 0 };
  readonly sampler: LogSampler;
  /** Shared limit_req buckets (store: redis), set by the service runtime; null = local. */
  shared: RedisBuckets | null = null;
  #service = '';
  /** The reason of the last refusal `open` or `request` returned (for the log line). */
  lastReason: RefusalReason = 'deny';

  constructor(config: LimitsConfig) {
    this.table = new ClientTable(config.table_size);
    this.sampler = new LogSampler(config.log_interval);
    this.reconfigure(config);
  }

  /** A reload: new limits apply to new connections and requests; counters and the table stay. */
  reconfigure(c: LimitsConfig): void {
    this.config = c;
    this.#allow = cidr(c.allow);
    this.#deny = cidr(c.deny);
    this.#trusted = cidr(c.real_ip_from);
    const lr = c.limit_req;
    this.#bucket = lr === undefined ? undefined : { rate: lr.rate, burst: lr.burst, nodelay: lr.nodelay };
    this.#reqStatus = lr?.status ?? 429;
    this.#perClient = c.limit_conn.per_client;
    this.#total = c.limit_conn.total;
    this.#connStatus = c.limit_conn.status === 'close' ? REFUSE_CLOSE : c.limit_conn.status;
    this.rate = c.limit_rate;
    this.rateAfter = c.limit_rate_after;
    this.table.resize(c.table_size);
    this.sampler.intervalMs = c.log_interval;
    this.active = this.#allow.size + this.#deny.size + this.#trusted.size !== 0 || lr !== undefined || this.#perClient !== 0 || this.#total !== 0;
  }

  #denied(address: string): boolean {
    return this.#deny.has(address) || (this.#allow.size !== 0 && !this.#allow.has(address));
  }

  /**
   * A connection was accepted. Returns 0 when admitted (and counted), else the
   * status to answer once its request head is read (403, 503, 429), or REFUSE_CLOSE.
   */
  open(c: LimitedConn): number {
    const peer = c.remoteAddress;
    c.limitTrusted = this.#trusted.size !== 0 && this.#trusted.has(peer);
    if (!c.limitTrusted && this.#denied(peer)) {
      this.refused.deny++;
      this.lastReason = 'deny';
      return 403;
    }
    if (this.#total !== 0 && this.connections >= this.#total) {
      this.refused.connTotal++;
      this.lastReason = 'limit_conn_total';
      return this.#connStatus;
    }
    // Connections from a trusted proxy carry many clients: only the service total counts them.
    if (this.#perClient !== 0 && !c.limitTrusted) {
      const e = this.table.get(peer);
      if (e.conns >= this.#perClient) {
        this.refused.conn++;
        this.lastReason = 'limit_conn';
        return this.#connStatus;
      }
      e.conns++;
      c.limitEntry = e;
    }
    this.connections++;
    c.limitCounted = true;
    return 0;
  }

  /** A connection admitted by `open` closed. */
  close(c: LimitedConn): void {
    if (!c.limitCounted) return;
    c.limitCounted = false;
    this.connections--;
    const e = c.limitEntry;
    if (e === null) return;
    c.limitEntry = null;
    e.conns--;
    // Without limit_req an entry holds nothing once its last connection is gone.
    if (e.conns === 0 && this.#bucket === undefined) this.table.delete(e);
  }

  /** The address limits apply to for a request on `c`: its peer, or the client in X-Forwarded-For behind a trusted proxy. */
  clientOf(c: LimitedConn, xff: string | undefined): string {
    return c.limitTrusted ? realClientAddress(c.remoteAddress, xff, this.#trusted) : c.remoteAddress;
  }

  /**
   * A request head from `client` (see `clientOf`) at `nowMs`. Returns 0 to pass it
   * on now, a positive delay in ms, or a negative status (-403, -429, -503) to refuse it.
   */
  request(c: LimitedConn, client: string, nowMs: number): number {
    if (c.limitTrusted && this.#denied(client)) {
      this.refused.deny++;
      this.lastReason = 'deny';
      return -403;
    }
    const b = this.#bucket;
    if (b === undefined) return 0;
    if (this.shared !== null) return REQ_SHARED;
    const r = limitReq(this.table.get(client), b, nowMs);
    if (r === REQ_REFUSED) {
      this.refused.req++;
      this.lastReason = 'limit_req';
      return -this.#reqStatus;
    }
    if (r > 0) this.delayed++;
    return r;
  }

  /** Names the service in shared keys. */
  setService(name: string): void {
    this.#service = name;
  }

  /** Asks Redis for `client`'s bucket (after `request` said REQ_SHARED); `w` hears the raw result, for `sharedResult`. */
  askShared(client: string, w: BucketWaiter): void {
    const b = this.#bucket!;
    this.shared!.take(`${this.config.redis.prefix}:lr:${this.#service}:${client}`, b.rate, b.burst, b.nodelay, w);
  }

  /** A shared bucket's raw answer as `request` would have returned it (counted the same way). */
  sharedResult(r: number): number {
    if (r === REQ_REFUSED) {
      this.refused.req++;
      this.lastReason = 'limit_req';
      return -this.#reqStatus;
    }
    if (r > 0) this.delayed++;
    return r;
  }

  snapshot(): LimitsSnapshot {
    const sh = this.shared;
    return {
      ...(sh === null ? {} : { shared: { ready: sh.ready, failOpen: sh.failOpen, lastProblem: sh.lastProblem } }),
      clients: this.table.size,
      tableSize: this.table.max,
      evictions: this.table.evictions,
      connections: this.connections,
      delayed: this.delayed,
      refused: { ...this.refused },
    };
  }
}
