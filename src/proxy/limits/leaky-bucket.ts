/**
 * nginx `limit_req`: a leaky bucket per key, with nginx's arithmetic exactly
 * (ngx_http_limit_req_module.c, `ngx_http_limit_req_lookup` / `_account`).
 *
 * State is the bucket's `excess` in milli-requests and the time of the last accepted
 * request. The bucket leaks `rate` milli-requests per second; each request adds 1000.
 * A request that would raise `excess` above `burst * 1000` is refused and leaves the
 * state untouched. An accepted request with `excess > 0` is delayed by
 * `excess * 1000 / rate` ms (the time the bucket needs to drain it), unless
 * `nodelay`. A key's first request starts with an empty bucket (excess 0).
 */

export interface BucketState {
  /** Milli-requests in the bucket after the last accepted request. */
  excess: number;
  /** When the last request was accepted, ms on the caller's clock; -1 = never. */
  last: number;
}

export interface BucketParams {
  /** Milli-requests leaked per second (nginx stores `rate` as r/s × 1000; r/m as × 1000 / 60). */
  rate: number;
  /** Requests allowed above the rate (nginx `burst`). */
  burst: number;
  /** Serve burst requests at once instead of spacing them at the rate (nginx `nodelay`). */
  nodelay: boolean;
}

/** `limitReq` result: refused. */
export const REQ_REFUSED = -1;

/**
 * Accounts one request at `nowMs`. Returns REQ_REFUSED, 0 (pass now), or the delay in
 * ms before the request may be passed on. Updates `state` unless refused.
 */
export function limitReq(state: BucketState, p: BucketParams, nowMs: number): number {
  let excess: number;
  if (state.last < 0) {
    excess = 0;
  } else {
    let ms = nowMs - state.last;
    // nginx: a clock that went back more than a minute counts as 1 ms.
    if (ms < -60_000) ms = 1;
    else if (ms < 0) ms = 0;
    excess = state.excess - (p.rate * ms) / 1000 + 1000;
    if (excess < 0) excess = 0;
    if (excess > p.burst * 1000) return REQ_REFUSED;
  }
  state.excess = excess;
  state.last = nowMs;
  if (excess === 0 || p.nodelay) return 0;
  return (excess * 1000) / p.rate;
}
