/**
 * limit_req buckets shared through Redis (`limits.store: redis`), for directors that
 * run active-active: the same leaky bucket as leaky-bucket.ts, run atomically inside
 * Redis by a Lua script on Redis's own clock (TIME), so that every director counts
 * against one bucket per client.
 *
 * A minimal RESP2 client on one pipelined connection: requests go out in order and
 * replies come back in order, so waiters are a FIFO queue (no closure per request).
 * While Redis is unreachable, requests pass (fail open) and the outage is logged once
 * per second at most; the connection is retried with a backoff.
 */
import { connect, type Socket } from 'node:net';

/** Who waits for a bucket decision: REQ_REFUSED (-1), 0, or a delay in ms. */
export interface BucketWaiter {
  /** `failed`: Redis could not decide (unreachable, error) and the request passes. */
  bucketReply(result: number, failed: boolean): void;
}

// nginx's arithmetic (see leaky-bucket.ts), in integer milli-requests, on Redis's clock.
const SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'e', 'l')
local excess = 0
if v[2] then
  local ms = now - tonumber(v[2])
  if ms < 0 then ms = 0 end
  excess = tonumber(v[1]) - math.floor(rate * ms / 1000) + 1000
  if excess < 0 then excess = 0 end
  if excess > burst * 1000 then return -1 end
end
redis.call('HSET', KEYS[1], 'e', excess, 'l', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 * 1000 / rate) + 60000)
if excess == 0 or ARGV[3] == '1' then return 0 end
return math.ceil(excess * 1000 / rate)
`;
const SCRIPT_HEAD = `*7\r\n$4\r\nEVAL\r\n$${Buffer.byteLength(SCRIPT)}\r\n${SCRIPT}\r\n$1\r\n1\r\n`;

function bulk(s: string): string {
  return `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
}

export interface RedisBucketsOptions {
  host: string;
  port: number;
}

export class RedisBuckets {
  readonly #opts: RedisBucketsOptions;
  #socket: Socket | null = null;
  #ready = false;
  #closed = false;
  readonly #waiting: BucketWaiter[] = [];
  #head = 0;
  #buf = '';
  #backoff = 100;
  #timer: NodeJS.Timeout | null = null;
  /** Decisions that passed because Redis was unreachable or failed. */
  failOpen = 0;

  constructor(opts: RedisBucketsOptions) {
    this.#opts = opts;
    this.#connect();
  }

  get ready(): boolean {
    return this.#ready;
  }

  #connect(): void {
    this.#timer = null;
    if (this.#closed) return;
    const s = connect({ host: this.#opts.host, port: this.#opts.port, noDelay: true });
    this.#socket = s;
    s.setEncoding('latin1');
    s.on('connect', this.#onConnect);
    s.on('data', this.#onData);
    s.on('error', this.#onError);
    s.on('close', this.#onClose);
  }

  #onConnect = (): void => {
    this.#ready = true;
    this.#backoff = 100;
  };

  /** The last problem seen (connection error or error reply), for logs and the snapshot. */
  lastProblem = '';

  #onError = (err: Error): void => {
    this.lastProblem = `redis ${this.#opts.host}:${this.#opts.port}: ${err.message}`;
  };

  #onClose = (): void => {
    this.#ready = false;
    this.#socket = null;
    this.#buf = '';
    // Whatever was asked and not answered passes.
    while (this.#head < this.#waiting.length) this.#answer(0, true);
    if (this.#closed) return;
    this.#timer = setTimeout(() => this.#connect(), this.#backoff);
    this.#timer.unref();
    this.#backoff = Math.min(this.#backoff * 2, 5_000);
  };

  #answer(result: number, failed: boolean): void {
    const w = this.#waiting[this.#head]!;
    this.#waiting[this.#head++] = undefined as unknown as BucketWaiter;
    if (this.#head === this.#waiting.length) {
      this.#waiting.length = 0;
      this.#head = 0;
    }
    if (failed) this.failOpen++;
    w.bucketReply(result, failed);
  }

  #onData = (chunk: string): void => {
    this.#buf += chunk;
    let pos = 0;
    const b = this.#buf;
    for (;;) {
      const eol = b.indexOf('\r\n', pos);
      if (eol < 0) break;
      const type = b.charCodeAt(pos);
      const line = b.slice(pos + 1, eol);
      pos = eol + 2;
      if (this.#head >= this.#waiting.length) continue; // nothing asked: ignore
      if (type === 0x3a /* : */) this.#answer(Number(line), false);
      else {
        // An error (-ERR ...) or an unexpected reply: pass the request, say so.
        this.lastProblem = `redis reply: ${line}`;
        this.#answer(0, true);
      }
    }
    this.#buf = pos === b.length ? '' : b.slice(pos);
  };

  /** Accounts one request of `key`; the waiter hears REQ_REFUSED (-1), 0 or a delay in ms. */
  take(key: string, rate: number, burst: number, nodelay: boolean, waiter: BucketWaiter): void {
    const s = this.#socket;
    if (!this.#ready || s === null) {
      this.failOpen++;
      waiter.bucketReply(0, true);
      return;
    }
    this.#waiting.push(waiter);
    s.write(`${SCRIPT_HEAD}${bulk(key)}${bulk(String(rate))}${bulk(String(burst))}${bulk(nodelay ? '1' : '0')}`, 'latin1');
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#socket?.destroy();
  }
}
