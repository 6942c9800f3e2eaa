/**
 * One client connection and the request in progress on it.
 *
 * The connection object also holds the state of its current exchange (requests on a
 * connection are handled one at a time, pipelined ones queued), so that a request
 * costs no object beyond its parsed head: no streams, no per-request listeners or
 * closures. Bodies stream both ways with back-pressure; nothing buffers a whole
 * body.
 */
import type { Socket } from 'node:net';
import { UpstreamError, errorMessage } from '../../core/errors.ts';
import { now, type DeadlineSweeper, type Expirable } from '../../core/deadlines.ts';
import type { Logger } from '../../core/logger.ts';
import { ChunkedTracker } from './chunked.ts';
import { buildClientHead, buildUpstreamHead, builtinErrorPage, errorResponse, IDEMPOTENT } from './headers.ts';
import {
  BODY_CHUNKED,
  BODY_LENGTH,
  BODY_NONE,
  BODY_UNTIL_CLOSE,
  findHeadEnd,
  HeadError,
  parseRequestHead,
  parseResponseHead,
  type BodyKind,
  type RequestHead,
  type ResponseHead,
} from './parse.ts';
import type { BackendRuntime, ServiceRuntime } from './service.ts';
import type { UpstreamConn, UpstreamUser } from './upstream.ts';
import type { QueueTicket } from '../../balancer/index.ts';
import type { ClientEntry } from '../limits/client-table.ts';
import { REFUSE_CLOSE, REQ_SHARED, type LimitedConn, type RefusalReason, type ServiceLimits } from '../limits/service-limits.ts';
import type { BucketWaiter } from '../limits/redis-buckets.ts';
import { headerValue } from './parse.ts';

/** What a connection needs from the listener that accepted it. */
export interface ListenerContext {
  /** The service now bound to this listener (changes on reload). */
  service: ServiceRuntime;
  readonly destination: string;
  readonly log: Logger;
  readonly accessLog: boolean;
  readonly sweeper: DeadlineSweeper;
  readonly connections: Set<ClientConn>;
  /** Called when a connection is gone, for draining on shutdown. */
  connectionClosed(): void;
  /** Stop accepting keep-alive requests (graceful shutdown). */
  readonly draining: boolean;
}

const S_HEAD = 0;
const S_REQ = 1;
const S_TUNNEL = 2;
const S_CLOSED = 3;
/** Sampling keys of refusals that are not a limit's (see #logRefusal). */
const STATUS_KEYS: Record<number, string> = { 400: 'status_400', 405: 'status_405', 408: 'status_408', 413: 'status_413', 414: 'status_414', 431: 'status_431', 501: 'status_501', 505: 'status_505' };
/** Request head read, held back by limit_req (burst without nodelay). */
const S_DELAY = 4;

const EMPTY: readonly BackendRuntime[] = [];
const EMPTY_BUFFER = Buffer.alloc(0);
/** Bodies up to this size are copied behind the head for a single write; larger ones go out with writev. */
const COALESCE_MAX = 16 * 1024;

/**
 * Whether `buf` holds an empty line made of a bare LF ("\n\n" or "\r\n\n") after
 * something other than the CR/LF allowed between pipelined requests: a head that
 * would otherwise wait for a CRLFCRLF that never comes.
 */
function bareLfHeadEnd(buf: Buffer, from: number): boolean {
  const i = buf.indexOf('\n\n', from > 0 ? from - 1 : 0, 'latin1');
  if (i < 0) return false;
  for (let k = 0; k < i; k++) if (buf[k] !== 0x0d && buf[k] !== 0x0a) return true;
  return false;
}

export class ClientConn implements Expirable, UpstreamUser, LimitedConn, BucketWaiter {
  readonly socket: Socket;
  readonly ctx: ListenerContext;
  readonly remoteAddress: string;
  readonly remotePort: number;
  state = S_HEAD;
  deadline = 0;
  /** Bytes of a partial head, or bytes received after the current request (pipelining). */
  buf: Buffer | null = null;
  requests = 0;
  closeAfter = false;

  // The exchange in progress.
  svc: ServiceRuntime | null = null;
  head: RequestHead | null = null;
  upHead = '';
  start = 0;
  reqKind: BodyKind = BODY_NONE;
  reqRemaining = 0;
  reqChunked: ChunkedTracker | null = null;
  reqDone = true;
  reqBytes = 0;
  /** Body bytes kept so the request can be re-sent to another backend; null once too large. */
  replay: Buffer[] | null = null;
  replayBytes = 0;
  /** Body bytes received before the upstream connection could take them. */
  queued: Buffer[] = [];
  tried: BackendRuntime[] = [];
  backend: BackendRuntime | null = null;
  up: UpstreamConn | null = null;
  upSent = false;
  upStart = 0;
  resBuf: Buffer | null = null;
  res: ResponseHead | null = null;
  resKind: BodyKind = BODY_NONE;
  resRemaining = 0;
  resChunked: ChunkedTracker | null = null;
  dechunk = false;
  headerSent = false;
  status = 0;
  bytesOut = 0;
  upstreamMs = -1;
  lastFailure = '';
  waitingDrain = false;
  /** A response head waiting to go out with the first body bytes. */
  pendingHead: string | null = null;
  /** Client writes still hold views of the upstream's read buffer (see #afterWrite). */
  viewsInFlight = false;
  /** Flush marks written behind queued client writes and not yet reached. */
  flushMarks = 0;
  /** A finished upstream connection waiting for those writes before going back to the pool. */
  heldConn: UpstreamConn | null = null;
  /** Attempts made for the current request (retries and fresh reconnects included). */
  attempts = 0;
  /** Place in the service's queue while waiting for a backend slot. */
  ticket: QueueTicket | null = null;
  // Limits (src/proxy/limits): the service limits this connection is counted in, and its state there.
  limits: ServiceLimits | null = null;
  limitEntry: ClientEntry | null = null;
  limitCounted = false;
  limitTrusted = false;
  /** Status to answer once the request head is read: refused by limit_conn or deny at accept. 0 = none. */
  refusal = 0;
  refusalReason: RefusalReason = 'deny';
  /** A request head held by limit_req until its delay has passed. */
  delayed: { head: RequestHead; buf: Buffer; end: number; client: string } | null = null;
  delayTimer: NodeJS.Timeout | null = null;
  /** limit_rate: when the response passed limit_rate_after (0 = not yet), and the pause in progress. */
  rateStart = 0;
  rateTimer: NodeJS.Timeout | null = null;
  #gone = false;

  constructor(socket: Socket, ctx: ListenerContext) {
    this.socket = socket;
    this.ctx = ctx;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    socket.setNoDelay(true);
    ctx.sweeper.add(this);
    this.deadline = now() + ctx.service.config.timeouts.client_header;
    socket.on('data', this.#onData);
    socket.on('drain', this.#onDrain);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    const lim = ctx.service.limits;
    if (lim.active) this.#admit(lim);
  }

  /** limit_conn, allow / deny at accept. A refused connection is closed, or answered once its head is read. */
  #admit(lim: ServiceLimits): void {
    this.limits = lim;
    const r = lim.open(this);
    if (r === 0) return;
    this.#logRefusal(lim, lim.lastReason, r === REFUSE_CLOSE ? 0 : r, this.remoteAddress);
    if (r === REFUSE_CLOSE) {
      this.socket.destroy();
      return;
    }
    this.refusal = r;
    this.refusalReason = lim.lastReason;
  }

  /** Refusals are logged sampled per reason (the first, then one per log_interval), so an attack cannot flood the log. */
  #logRefusal(lim: ServiceLimits, key: string, status: number, client: string, reason = key): void {
    // The key is a limit's name or a status, never request text: the sampler's table stays small.
    const left = lim.sampler.take(key, now());
    if (left < 0) return;
    const more = left > 0 ? ` (${left} more since the last line)` : '';
    if (key === 'redis_unavailable') this.ctx.log.warn({ service: this.ctx.service.name, client, reason, suppressed: left }, `${reason}${more}`);
    else this.ctx.log.warn({ service: this.ctx.service.name, client, reason, status: status === 0 ? 'closed' : status, suppressed: left }, `request refused: ${reason}${more}`);
  }

  // ---- client socket events ------------------------------------------------

  #onData = (chunk: Buffer): void => {
    switch (this.state) {
      case S_HEAD:
        this.#headData(chunk);
        return;
      case S_REQ:
        if (!this.reqDone) this.#bodyData(chunk, 0);
        else this.#stash(chunk, 0);
        return;
      case S_TUNNEL:
        this.#tunnelToUpstream(chunk);
        return;
    }
  };

  #onDrain = (): void => {
    if (!this.waitingDrain) return;
    this.waitingDrain = false;
    if (!this.viewsInFlight) this.#sendSettled();
  };

  /** Nothing is queued for the client any more: back to the deadline of the state, upstream reading again. */
  #sendSettled(): void {
    if (this.state === S_REQ) this.deadline = this.reqDone ? 0 : this.#bodyDeadline();
    else if (this.state === S_TUNNEL) this.deadline = 0;
    if (this.rateTimer === null) this.up?.socket.resume();
  }

  #onError = (_err: Error): void => {
    // 'close' follows; nothing to do here but not crash.
  };

  #onClose = (): void => {
    if (this.#gone) return;
    this.#gone = true;
    const was = this.state;
    this.state = S_CLOSED;
    this.ctx.sweeper.delete(this);
    this.ctx.connections.delete(this);
    if (this.limits !== null) this.limits.close(this);
    if (this.delayTimer !== null) {
      clearTimeout(this.delayTimer);
      this.delayTimer = null;
      this.delayed = null;
    }
    if (this.rateTimer !== null) {
      clearTimeout(this.rateTimer);
      this.rateTimer = null;
    }
    if (this.ticket !== null) {
      this.ticket.cancel();
      this.ticket = null;
    }
    if (this.heldConn !== null) {
      this.heldConn.destroy();
      this.heldConn = null;
    }
    if (was === S_REQ || was === S_TUNNEL) {
      if (was === S_REQ && this.status === 0) this.status = 499;
      this.#releaseAttempt(false);
      this.#logAccess();
    }
    this.ctx.connectionClosed();
  };

  expire(_t: number): void {
    const tm = this.ctx.service.config.timeouts;
    if (this.state === S_HEAD) {
      if (this.buf !== null && this.buf.length > 0) this.#refuse(408, 'client header timeout');
      else if (this.socket.writableLength !== 0) this.socket.resetAndDestroy(); // the last answer still queued: see below
      else this.socket.destroy();
      return;
    }
    if (this.state === S_REQ || this.state === S_TUNNEL) {
      if (this.waitingDrain || this.viewsInFlight) {
        this.ctx.log.debug({ client: this.remoteAddress, timeout: tm.send }, 'client not reading: send timeout');
        // A reset, not a close: the kernel would otherwise keep sending the queued bytes
        // to the slow reader long after we let go of the socket (nginx reset_timedout_connection).
        this.socket.resetAndDestroy();
        return;
      }
      if (!this.reqDone) {
        this.ctx.log.debug({ client: this.remoteAddress }, 'client body timeout');
        this.#releaseAttempt(false);
        if (!this.headerSent) this.#refuse(408, 'client body timeout');
        else this.socket.destroy();
      }
    }
  }

  // ---- request head --------------------------------------------------------

  #headData(chunk: Buffer): void {
    const svc = this.ctx.service;
    const limit = svc.config.client.max_header_size;
    let buf: Buffer;
    let from = 0;
    if (this.buf === null) {
      buf = chunk;
      if (this.requests > 0) this.deadline = now() + svc.config.timeouts.client_header;
    } else {
      from = this.buf.length;
      buf = Buffer.concat([this.buf, chunk]);
    }
    const end = findHeadEnd(buf, from);
    if (end < 0) {
      if (buf.length > limit) {
        this.#refuse(431, 'request head too large');
        return;
      }
      // A head ended by bare LFs never matches CRLFCRLF: refuse it now rather than at the header timeout.
      if (bareLfHeadEnd(buf, from)) {
        this.#refuse(400, 'bare LF line endings in the request head');
        return;
      }
      // A lone CRLF or LF between pipelined requests is allowed (RFC 9112 §2.2); anything else keeps accumulating.
      this.buf = buf;
      return;
    }
    if (end > limit) {
      this.#refuse(431, 'request head too large');
      return;
    }
    let start = 0;
    while (start < end && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
    let head: RequestHead;
    try {
      head = parseRequestHead(buf, start, end, { maxHeaders: svc.config.client.max_headers });
    } catch (err) {
      if (err instanceof HeadError) {
        this.#refuse(err.status, err.message);
        return;
      }
      throw err;
    }
    this.buf = null;
    if (this.refusal !== 0) {
      this.#refuse(this.refusal, `refused by ${this.refusalReason}`, true);
      return;
    }
    const lim = svc.limits;
    if (lim.active) {
      const client = this.limitTrusted ? lim.clientOf(this, headerValue(head, 'x-forwarded-for')) : this.remoteAddress;
      const r = lim.request(this, client, now());
      if (r === REQ_SHARED) {
        // The bucket lives in Redis: hold the request until it answers (bucketReply).
        this.state = S_DELAY;
        this.deadline = 0;
        this.socket.pause();
        this.delayed = { head, buf, end, client };
        lim.askShared(client, this);
        return;
      }
      if (r !== 0) {
        this.delayed = { head, buf, end, client };
        this.#limited(lim, r);
        return;
      }
    }
    this.#startRequest(svc, head, buf, end);
  }

  /** A limit_req answer other than "pass now" for the request in `delayed`: refuse it, or hold it for `r` ms. */
  #limited(lim: ServiceLimits, r: number): void {
    const d = this.delayed!;
    if (r < 0) {
      this.delayed = null;
      this.#logRefusal(lim, lim.lastReason, -r, d.client);
      this.#refuse(-r, `refused by ${lim.lastReason}`, true);
      return;
    }
    // nginx limit_req without nodelay: the request waits until the bucket has room.
    this.state = S_DELAY;
    this.deadline = 0;
    this.socket.pause();
    this.delayTimer = setTimeout(this.#afterDelay, r);
  }

  /** Redis answered for the held request (see RedisBuckets). */
  bucketReply(raw: number, failed: boolean): void {
    if (this.state !== S_DELAY || this.delayed === null || this.delayTimer !== null) return;
    const lim = this.ctx.service.limits;
    if (failed) {
      const shared = lim.shared;
      this.#logRefusal(lim, 'redis_unavailable', 0, this.delayed.client, `limit_req store unavailable, request passed: ${shared?.lastProblem ?? ''}`);
    }
    const r = lim.sharedResult(raw);
    if (r === 0) this.#afterDelay();
    else this.#limited(lim, r);
  }

  #afterDelay = (): void => {
    this.delayTimer = null;
    const d = this.delayed;
    this.delayed = null;
    if (d === null || this.state !== S_DELAY) return;
    this.state = S_HEAD;
    this.#startRequest(this.ctx.service, d.head, d.buf, d.end);
  };

  #startRequest(svc: ServiceRuntime, head: RequestHead, buf: Buffer, offset: number): void {
    this.state = S_REQ;
    this.requests++;
    this.svc = svc;
    svc.requests++;
    this.head = head;
    this.start = now();
    this.deadline = 0;
    this.tried = [];
    this.backend = null;
    this.up = null;
    this.upSent = false;
    this.res = null;
    this.resBuf = null;
    this.headerSent = false;
    this.pendingHead = null;
    this.status = 0;
    this.bytesOut = 0;
    this.upstreamMs = -1;
    this.reqBytes = 0;
    this.lastFailure = '';
    this.attempts = 0;
    this.dechunk = false;
    this.replay = null;
    this.replayBytes = 0;
    this.rateStart = 0;
    const cfg = svc.config;
    if (head.method === 'CONNECT') {
      this.#refuse(405, 'CONNECT is not supported');
      return;
    }
    const maxBody = cfg.client.max_body_size;
    this.reqKind = head.bodyKind;
    this.reqChunked = null;
    if (head.bodyKind === BODY_LENGTH) {
      if (maxBody !== 0 && head.contentLength > maxBody) {
        this.#refuse(413, 'request body too large');
        return;
      }
      this.reqRemaining = head.contentLength;
      this.reqDone = head.contentLength === 0;
    } else if (head.bodyKind === BODY_CHUNKED) {
      this.reqChunked = new ChunkedTracker({ maxLineLength: 4096, maxTrailerSize: cfg.client.max_header_size });
      this.reqDone = false;
    } else {
      this.reqDone = true;
    }
    if (!this.reqDone && cfg.retry.body_buffer > 0) this.replay = [];
    const keepaliveMax = cfg.client.keepalive_requests;
    if (head.close || (keepaliveMax !== 0 && this.requests >= keepaliveMax) || this.ctx.draining) this.closeAfter = true;
    this.upHead = buildUpstreamHead(head, { clientAddress: this.remoteAddress, proto: 'http' }, cfg);
    // Hold further client bytes until an upstream connection can take them.
    if (offset < buf.length) {
      if (this.reqDone) this.#stash(buf, offset);
      else this.#bodyData(buf, offset);
    }
    if (this.state !== S_REQ) return;
    if (!this.reqDone) this.socket.pause();
    this.#tryNext();
  }

  // ---- request body --------------------------------------------------------

  #bodyData(buf: Buffer, offset: number): void {
    const cfg = this.svc!.config;
    let end: number;
    if (this.reqKind === BODY_LENGTH) {
      const n = Math.min(this.reqRemaining, buf.length - offset);
      this.reqRemaining -= n;
      end = offset + n;
      if (this.reqRemaining === 0) this.reqDone = true;
    } else {
      try {
        end = this.reqChunked!.feed(buf, offset, buf.length);
      } catch (err) {
        this.#releaseAttempt(false);
        this.#refuse(400, `bad chunked request body: ${errorMessage(err)}`);
        return;
      }
      if (this.reqChunked!.done) this.reqDone = true;
      const maxBody = cfg.client.max_body_size;
      if (maxBody !== 0 && this.reqChunked!.dataBytes > maxBody) {
        this.#releaseAttempt(false);
        this.#refuse(413, 'request body too large');
        return;
      }
    }
    const piece = offset === 0 && end === buf.length ? buf : buf.subarray(offset, end);
    this.reqBytes += piece.length;
    if (this.replay !== null) {
      if (this.replayBytes + piece.length <= cfg.retry.body_buffer) {
        this.replay.push(piece);
        this.replayBytes += piece.length;
      } else {
        this.replay = null;
      }
    }
    if (this.upSent && this.up !== null) {
      if (piece.length > 0 && !this.up.socket.write(piece)) this.socket.pause();
      this.up.arm(this.reqDone ? cfg.timeouts.upstream_header : cfg.timeouts.send);
    } else if (piece.length > 0) {
      this.queued.push(piece);
    }
    if (this.reqDone) {
      this.deadline = 0;
      if (end < buf.length) this.#stash(buf, end);
    } else {
      this.deadline = this.#bodyDeadline();
    }
  }

  /**
   * When the request body must have progressed: `client_body` after the last read,
   * and with `limits.body_min_rate`, no later than the time its bytes so far needed
   * at that rate plus one `client_body` of grace (Apache mod_reqtimeout's MinRate):
   * a slow POST that trickles a byte a second no longer holds the connection.
   */
  #bodyDeadline(): number {
    const svc = this.svc!;
    const grace = svc.config.timeouts.client_body;
    const d = now() + grace;
    const minRate = svc.limits.config.body_min_rate;
    if (minRate === 0) return d;
    const byRate = this.start + grace + (this.reqBytes * 1000) / minRate;
    return byRate < d ? byRate : d;
  }

  /** Keeps bytes that follow the current request (a pipelined request) and stops reading. */
  #stash(buf: Buffer, offset: number): void {
    const rest = offset === 0 ? buf : buf.subarray(offset);
    this.buf = this.buf === null ? rest : Buffer.concat([this.buf, rest]);
    this.socket.pause();
  }

  // ---- choosing and using a backend ------------------------------------------

  #tryNext(): void {
    const svc = this.svc!;
    const b = svc.pick(this.remoteAddress, this.remotePort, this.ctx.destination, this.tried.length === 0 ? EMPTY : this.tried, this.head!);
    if (b === undefined) {
      if (svc.queue !== undefined && svc.onlyFull(this.tried)) {
        this.#enqueue(svc);
        return;
      }
      if (this.tried.length === 0) {
        svc.noBackend++;
        this.lastFailure = 'no usable backend';
        this.#respondError(503);
      } else {
        this.#respondError(this.lastFailure === 'timeout' ? 504 : 502);
      }
      return;
    }
    this.tried.push(b);
    this.#useBackend(b, false);
  }

  /** Every usable backend is at its max_conns: wait for a slot (HAProxy's queue), or 503. */
  #enqueue(svc: ServiceRuntime): void {
    const ticket = svc.queue!.enqueue({
      accept: (b) => (b as BackendRuntime).usable(svc.panic) && !this.tried.includes(b as BackendRuntime),
      grant: (b) => {
        this.ticket = null;
        if (this.state !== S_REQ) {
          svc.queue?.release(b);
          return;
        }
        this.tried.push(b as BackendRuntime);
        this.#useBackend(b as BackendRuntime, false);
      },
      expire: (reason) => {
        this.ticket = null;
        if (this.state !== S_REQ) return;
        this.lastFailure = `queue ${reason}`;
        svc.noBackend++;
        this.#respondError(503);
      },
    });
    if (ticket === undefined) {
      this.lastFailure = 'queue full';
      svc.noBackend++;
      this.#respondError(503);
      return;
    }
    this.ticket = ticket;
  }

  #useBackend(b: BackendRuntime, fresh: boolean): void {
    this.attempts++;
    this.backend = b;
    b.users?.add(this);
    b.active++;
    b.requests++;
    this.upStart = now();
    this.upSent = false;
    const c = b.pool.acquire(this, fresh);
    this.up = c;
    if (c.reused) this.#sendRequest(c);
  }

  upstreamConnected(c: UpstreamConn): void {
    if (c !== this.up) return;
    this.#sendRequest(c);
  }

  #sendRequest(c: UpstreamConn): void {
    const cfg = this.svc!.config;
    this.upSent = true;
    const s = c.socket;
    // A retry re-sends the body kept so far (a superset of what was queued); a first attempt sends what was queued.
    const pending = this.attempts > 1 ? this.replay : this.queued;
    let ok: boolean;
    if (pending === null || pending.length === 0) {
      ok = s.write(this.upHead, 'latin1');
    } else {
      s.cork();
      s.write(this.upHead, 'latin1');
      ok = true;
      for (const p of pending) ok = s.write(p);
      s.uncork();
    }
    if (this.queued.length !== 0) this.queued = [];
    c.arm(this.reqDone ? cfg.timeouts.upstream_header : cfg.timeouts.send);
    if (!this.reqDone) {
      if (ok) this.socket.resume();
      this.deadline = this.#bodyDeadline();
    }
  }

  upstreamDrain(c: UpstreamConn): void {
    if (c !== this.up) return;
    if (this.state === S_REQ && !this.reqDone) this.socket.resume();
    else if (this.state === S_TUNNEL) this.socket.resume();
  }

  upstreamData(c: UpstreamConn, chunk: Buffer): void {
    if (c !== this.up) return;
    if (this.state === S_TUNNEL) {
      this.#tunnelToClient(chunk);
      return;
    }
    if (this.res === null) this.#responseHeadData(c, chunk);
    else this.#responseBody(c, chunk, 0);
  }

  #responseHeadData(c: UpstreamConn, chunk: Buffer): void {
    const svc = this.svc!;
    const cfg = svc.config;
    let buf: Buffer;
    let from = 0;
    if (this.resBuf === null) buf = chunk;
    else {
      from = this.resBuf.length;
      buf = Buffer.concat([this.resBuf, chunk]);
    }
    let offset = 0;
    for (;;) {
      const end = findHeadEnd(buf, Math.max(offset, from));
      if (end < 0) {
        if (buf.length - offset > cfg.client.max_header_size) {
          this.#attemptFailed(c, 'invalid_header', 'response head too large');
          return;
        }
        if (bareLfHeadEnd(offset === 0 ? buf : buf.subarray(offset), Math.max(0, from - offset))) {
          this.#attemptFailed(c, 'invalid_header', 'bare LF line endings in the response head');
          return;
        }
        // Copied: the chunk is a view of the upstream connection's reused read buffer.
        this.resBuf = Buffer.from(offset === 0 ? buf : buf.subarray(offset));
        return;
      }
      if (end - offset > cfg.client.max_header_size) {
        this.#attemptFailed(c, 'invalid_header', 'response head too large');
        return;
      }
      let r: ResponseHead;
      try {
        r = parseResponseHead(buf, offset, end, { maxHeaders: 1000 }, this.head!.method);
      } catch (err) {
        this.#attemptFailed(c, 'invalid_header', errorMessage(err));
        return;
      }
      if (r.status >= 100 && r.status < 200 && r.status !== 101) {
        // Interim response: relay 100 Continue to HTTP/1.1 clients, drop others.
        if (r.status === 100 && this.head!.minor === 1 && this.head!.expectContinue) this.socket.write('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
        offset = end;
        from = end;
        this.resBuf = null;
        if (offset === buf.length) return;
        continue;
      }
      this.resBuf = null;
      this.#responseHead(c, r, buf, end);
      return;
    }
  }

  #responseHead(c: UpstreamConn, r: ResponseHead, buf: Buffer, bodyStart: number): void {
    const svc = this.svc!;
    const cfg = svc.config;
    const h = this.head!;
    this.upstreamMs = now() - this.upStart;
    if (r.status === 101) {
      if (h.upgrade === '' || r.upgrade === '') {
        this.#attemptFailed(c, 'invalid_header', '101 Switching Protocols without an Upgrade request');
        return;
      }
      this.res = r;
      this.status = 101;
      this.headerSent = true;
      this.#startTunnel(c, r, buf, bodyStart);
      return;
    }
    const onStatus = `http_${r.status}`;
    if ((cfg.retry.on as readonly string[]).includes(onStatus) && this.#canRetry(onStatus)) {
      this.lastFailure = onStatus;
      svc.report(this.backend!, r.status);
      this.#releaseAttempt(false);
      this.#tryNext();
      return;
    }
    this.res = r;
    this.status = r.status;
    this.resKind = r.bodyKind;
    const http10 = h.minor === 0;
    this.dechunk = http10 && r.bodyKind === BODY_CHUNKED;
    if (r.bodyKind === BODY_UNTIL_CLOSE || this.dechunk) this.closeAfter = true;
    if (r.bodyKind === BODY_LENGTH) this.resRemaining = r.contentLength;
    else if (r.bodyKind === BODY_CHUNKED) this.resChunked = new ChunkedTracker({ maxLineLength: 4096, maxTrailerSize: cfg.client.max_header_size });
    // The response may end before the request body did; then the connection cannot carry another request.
    if (!this.reqDone) this.closeAfter = true;
    // The head goes out with the first body bytes in one write (one syscall for a small response).
    const b = this.backend!;
    this.pendingHead = buildClientHead(r, cfg, { http10, close: this.closeAfter, dechunk: this.dechunk, upgrade: false, extra: svc.stickyHeader(b, h) });
    svc.observe(b, this.upstreamMs, r.status < 500);
    svc.report(b, r.status);
    this.headerSent = true;
    if (r.bodyKind === BODY_NONE || (r.bodyKind === BODY_LENGTH && r.contentLength === 0)) {
      this.#flushHead();
      this.#finish(bodyStart === buf.length);
      return;
    }
    c.arm(cfg.timeouts.upstream_read);
    if (bodyStart < buf.length) this.#responseBody(c, buf, bodyStart);
    else this.#flushHead();
  }

  #flushHead(): void {
    const head = this.pendingHead;
    if (head === null) return;
    this.pendingHead = null;
    this.bytesOut += head.length;
    this.#afterWrite(this.socket.write(head, 'latin1'));
  }

  #responseBody(c: UpstreamConn, buf: Buffer, offset: number): void {
    const cfg = this.svc!.config;
    switch (this.resKind) {
      case BODY_LENGTH: {
        const avail = buf.length - offset;
        const n = Math.min(this.resRemaining, avail);
        this.resRemaining -= n;
        this.#writeClient(offset === 0 && n === buf.length ? buf : buf.subarray(offset, offset + n));
        if (this.resRemaining === 0) {
          // Bytes past the declared length mean the backend is confused: don't reuse it.
          this.#finish(n === avail);
          return;
        }
        break;
      }
      case BODY_CHUNKED: {
        const t = this.resChunked!;
        let end: number;
        try {
          end = this.dechunk ? t.feed(buf, offset, buf.length, this.#writeRange) : t.feed(buf, offset, buf.length);
        } catch (err) {
          this.ctx.log.warn({ service: this.svc!.name, backend: this.backend!.id, err: errorMessage(err) }, 'bad chunked response from backend');
          this.#releaseAttempt(false);
          this.socket.destroy();
          return;
        }
        if (!this.dechunk) this.#writeClient(offset === 0 && end === buf.length ? buf : buf.subarray(offset, end));
        if (t.done) {
          this.#finish(end === buf.length);
          return;
        }
        break;
      }
      default:
        this.#writeClient(offset === 0 ? buf : buf.subarray(offset));
    }
    c.arm(cfg.timeouts.upstream_read);
    if (this.svc!.limits.rate !== 0) this.#throttle(c);
  }

  /**
   * limit_rate: past limit_rate_after bytes, the response may have sent only
   * rate × elapsed bytes; when it is ahead, stop reading the backend until the time
   * those bytes were due (nginx sleeps the same way between writes).
   */
  #throttle(c: UpstreamConn): void {
    const lim = this.svc!.limits;
    const over = this.bytesOut - lim.rateAfter;
    if (over <= 0 || this.rateTimer !== null) return;
    const t = now();
    if (this.rateStart === 0) this.rateStart = t;
    const wait = this.rateStart + (over * 1000) / lim.rate - t;
    if (wait < 1) return;
    c.socket.pause();
    c.arm(wait + this.svc!.config.timeouts.upstream_read);
    this.rateTimer = setTimeout(this.#rateResume, wait);
  }

  #rateResume = (): void => {
    this.rateTimer = null;
    if (this.state === S_REQ && !this.waitingDrain && !this.viewsInFlight) this.up?.socket.resume();
  };

  #writeRange = (buf: Buffer, start: number, end: number): void => {
    this.#writeClient(buf.subarray(start, end));
  };

  #writeClient(b: Buffer): void {
    const head = this.pendingHead;
    this.bytesOut += b.length;
    if (head === null) {
      this.#afterWrite(this.socket.write(b));
      return;
    }
    this.pendingHead = null;
    const hl = head.length; // latin1: one byte per character
    this.bytesOut += hl;
    if (b.length <= COALESCE_MAX) {
      const out = Buffer.allocUnsafe(hl + b.length);
      out.write(head, 0, hl, 'latin1');
      b.copy(out, hl);
      this.#afterWrite(this.socket.write(out));
    } else {
      const s = this.socket;
      s.cork();
      s.write(head, 'latin1');
      const ok = s.write(b);
      s.uncork();
      this.#afterWrite(ok);
    }
  }

  /**
   * After a write that may hold a view of the upstream's reused read buffer: if it
   * did not go out at once, stop reading upstream until it has (the next read would
   * overwrite bytes still queued), and past the high-water mark start the send timeout.
   */
  #afterWrite(ok: boolean): void {
    if (!ok) this.waitingDrain = true;
    if (this.socket.writableLength !== 0) {
      // Every queued write gets its own flush mark: with several writes in flight (a
      // de-chunked read, or a pipelined request's response behind the previous one),
      // the first mark alone would release the upstream buffer too early.
      if (!this.viewsInFlight || this.deadline === 0) this.deadline = now() + this.svc!.config.timeouts.send;
      this.viewsInFlight = true;
      this.up?.socket.pause();
      this.flushMarks++;
      this.socket.write(EMPTY_BUFFER, this.#onFlushed);
    }
  }

  /** Everything written so far has left: the upstream buffer may be reused. */
  #onFlushed = (): void => {
    if (--this.flushMarks > 0) return;
    this.viewsInFlight = false;
    const held = this.heldConn;
    if (held !== null) {
      this.heldConn = null;
      held.release();
      return;
    }
    if (!this.waitingDrain && this.state !== S_CLOSED) this.#sendSettled();
  };

  upstreamFailed(c: UpstreamConn, err: Error | undefined, timeout: boolean): void {
    if (c !== this.up) return;
    this.up = null;
    if (this.state === S_TUNNEL) {
      this.#releaseAttempt(false);
      this.socket.end();
      return;
    }
    if (this.res !== null) {
      if (this.resKind === BODY_UNTIL_CLOSE && !timeout && err === undefined) {
        this.#finish(false);
        return;
      }
      // The response had started: the client can only learn of the failure by the connection closing.
      const b = this.backend!;
      this.ctx.log.warn({ service: this.svc!.name, backend: b.id, err: err ? errorMessage(err) : timeout ? 'timeout' : 'closed' }, 'backend failed mid-response');
      this.svc!.report(b, timeout ? 'timeout' : 'error');
      this.#releaseAttempt(false);
      this.socket.destroy();
      return;
    }
    const kind = timeout ? 'timeout' : 'error';
    const detail = err ? errorMessage(err) : timeout ? (this.upSent ? 'upstream timeout' : 'connect timeout') : 'connection closed';
    // A pooled connection that the backend closed while idle: not the backend's fault,
    // and an idempotent request can safely go again on a fresh connection.
    if (c.reused && !timeout && this.resBuf === null && this.#idempotent() && this.#bodyReplayable()) {
      const b = this.backend!;
      this.#releaseAttempt(false);
      this.#useBackend(b, true);
      return;
    }
    this.#attemptFailedNoConn(kind, detail);
  }

  #attemptFailed(c: UpstreamConn, kind: string, detail: string): void {
    c.destroy();
    this.up = null;
    this.#attemptFailedNoConn(kind, detail);
  }

  #attemptFailedNoConn(kind: string, detail: string): void {
    const b = this.backend!;
    this.lastFailure = kind;
    const svc = this.svc!;
    svc.report(b, kind === 'timeout' ? 'timeout' : kind === 'invalid_header' ? 'invalid_header' : 'error');
    svc.observe(b, now() - this.upStart, false);
    this.ctx.log.warn({ service: svc.name, backend: b.id, failure: kind, detail }, `backend ${b.id} failed: ${detail}`);
    this.#releaseAttempt(false);
    this.resBuf = null;
    if (this.#canRetry(kind)) {
      this.#tryNext();
      return;
    }
    const err = new UpstreamError(kind === 'timeout' ? 'PALISADE_UPSTREAM_TIMEOUT' : kind === 'invalid_header' ? 'PALISADE_UPSTREAM_BAD_RESPONSE' : 'PALISADE_UPSTREAM_CONNECT', kind === 'timeout' ? 'timeout' : kind === 'invalid_header' ? 'invalid_header' : 'error', detail, !this.upSent);
    this.#respondError(err.kind === 'timeout' ? 504 : 502);
  }

  #idempotent(): boolean {
    return IDEMPOTENT.has(this.head!.method);
  }

  #bodyReplayable(): boolean {
    return this.reqBytes === 0 || (this.replay !== null && this.replayBytes === this.reqBytes);
  }

  /** nginx `proxy_next_upstream` rules, with `tries` and `timeout` limits. */
  #canRetry(kind: string): boolean {
    const r = this.svc!.config.retry;
    if (this.state !== S_REQ) return false;
    if (!(r.on as readonly string[]).includes(kind)) return false;
    if (r.tries !== 0 && this.tried.length >= r.tries) return false;
    if (r.timeout !== 0 && now() - this.start >= r.timeout) return false;
    // Never re-send a non-idempotent request once it went out, unless configured.
    if (this.upSent && !r.non_idempotent && !this.#idempotent()) return false;
    return this.#bodyReplayable();
  }

  /** The current attempt is over: the backend's active count back, its connection returned or closed. */
  #releaseAttempt(reuse: boolean): void {
    const b = this.backend;
    this.backend = null;
    if (b !== null) {
      b.active--;
      b.users?.delete(this);
    }
    const c = this.up;
    this.up = null;
    if (c !== null) {
      // A connection whose read buffer the client socket still sends from goes back
      // to the pool only once that is flushed.
      if (reuse && this.viewsInFlight) this.heldConn = c;
      else if (reuse) c.release();
      else c.destroy();
    }
    // A freed slot goes to the oldest request waiting for one.
    if (b !== null && b.maxConns !== 0) this.svc?.queue?.release(b);
  }

  // ---- completing a request ------------------------------------------------

  #finish(reusable: boolean): void {
    const c = this.up;
    const upReusable = reusable && this.reqDone && this.res !== null && !this.res.close && c !== null;
    this.#releaseAttempt(upReusable);
    this.#logAccess();
    this.#nextRequest();
  }

  #respondError(status: number): void {
    const svc = this.svc!;
    const page = status >= 502 && status <= 504 && svc.errorPage !== undefined ? svc.errorPage : builtinErrorPage(status);
    this.status = status;
    if (!this.reqDone) this.closeAfter = true;
    const bytes = errorResponse(status, page, this.closeAfter, this.head!.method === 'HEAD');
    this.bytesOut += bytes.length;
    this.socket.write(bytes);
    this.headerSent = true;
    this.#logAccess();
    this.#nextRequest();
  }

  /** Refuses a request the proxy will not forward, and closes the connection. `logged`: the caller logged it (sampled). */
  #refuse(status: number, reason: string, logged = false): void {
    if (this.state === S_CLOSED) return;
    if (!logged) this.#logRefusal(this.ctx.service.limits, STATUS_KEYS[status] ?? 'other', status, this.remoteAddress, reason);
    const wasReq = this.state === S_REQ;
    this.state = S_CLOSED;
    this.buf = null;
    if (!this.headerSent) this.socket.end(errorResponse(status, builtinErrorPage(status), true, false));
    else this.socket.destroy();
    this.status = status;
    if (wasReq) this.#logAccess();
    this.ctx.sweeper.delete(this);
    // Make sure a client that keeps sending cannot hold the socket open.
    this.socket.setTimeout(5000, this.#resetNow);
  }

  /** A closing connection whose client neither reads nor closes: reset it (see expire). */
  #resetNow = (): void => {
    this.socket.resetAndDestroy();
  };

  #nextRequest(): void {
    if (this.state === S_CLOSED) return;
    if (this.rateTimer !== null) {
      clearTimeout(this.rateTimer);
      this.rateTimer = null;
    }
    this.head = null;
    this.svc = null;
    this.res = null;
    this.resChunked = null;
    this.reqChunked = null;
    this.replay = null;
    this.queued = [];
    if (this.closeAfter || this.ctx.draining) {
      this.state = S_CLOSED;
      this.ctx.sweeper.delete(this);
      this.socket.end();
      // The last response may still be queued for a client that stopped reading: the send timeout still holds.
      if (this.socket.writableLength !== 0) this.socket.setTimeout(this.ctx.service.config.timeouts.send, this.#resetNow);
      return;
    }
    this.state = S_HEAD;
    this.deadline = now() + this.ctx.service.config.timeouts.keepalive;
    const pending = this.buf;
    if (pending !== null) {
      this.buf = null;
      // Pipelined request: handle it on the next turn so a burst cannot recurse deeply.
      setImmediate(this.#resumePending, pending);
    } else {
      this.socket.resume();
    }
  }

  #resumePending = (pending: Buffer): void => {
    if (this.state !== S_HEAD) return;
    this.#headData(pending);
    if (this.state === S_HEAD) this.socket.resume();
  };

  // ---- Upgrade tunnels ---------------------------------------------------

  #startTunnel(c: UpstreamConn, r: ResponseHead, buf: Buffer, bodyStart: number): void {
    const cfg = this.svc!.config;
    this.state = S_TUNNEL;
    this.deadline = 0;
    const head = buildClientHead(r, cfg, { http10: false, close: false, dechunk: false, upgrade: true, extra: this.svc!.stickyHeader(this.backend!, this.head!) });
    this.socket.write(head, 'latin1');
    if (bodyStart < buf.length) this.#tunnelToClient(buf.subarray(bodyStart));
    const pending = this.buf;
    this.buf = null;
    if (pending !== null) this.#tunnelToUpstream(pending);
    c.arm(cfg.timeouts.tunnel);
    this.socket.resume();
  }

  #tunnelToUpstream(chunk: Buffer): void {
    const c = this.up;
    if (c === null) return;
    c.arm(this.svc!.config.timeouts.tunnel);
    if (!c.socket.write(chunk)) this.socket.pause();
  }

  #tunnelToClient(chunk: Buffer): void {
    const c = this.up!;
    c.arm(this.svc!.config.timeouts.tunnel);
    this.bytesOut += chunk.length;
    this.#afterWrite(this.socket.write(chunk));
  }

  // ---- logging -----------------------------------------------------------

  #logAccess(): void {
    if (!this.ctx.accessLog || this.head === null) return;
    const h = this.head;
    const t = now();
    this.ctx.log.info(
      {
        type: 'access',
        service: this.svc?.name,
        client: this.remoteAddress,
        method: h.method,
        path: h.target,
        status: this.status,
        bytes: this.bytesOut,
        backend: this.tried.length > 0 ? this.tried[this.tried.length - 1]!.id : null,
        tries: this.tried.length,
        upstream_ms: this.upstreamMs < 0 ? null : Math.round(this.upstreamMs * 1000) / 1000,
        total_ms: Math.round((t - this.start) * 1000) / 1000,
      },
      'request',
    );
  }

  /** Closes the connection at once (shutdown). */
  destroy(): void {
    this.socket.destroy();
  }

  /** Idle between requests: can be closed without losing anything. */
  get idle(): boolean {
    return this.state === S_HEAD && this.buf === null;
  }
}
