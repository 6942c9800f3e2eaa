import { test } from 'node:test';
import assert from 'node:assert/strict';
import { limitReq, REQ_REFUSED, type BucketParams } from './leaky-bucket.ts';

const R = REQ_REFUSED;

/** Each case: bucket params, request times (ms), expected results (0 pass, delay ms, R refused). */
const cases: { name: string; p: BucketParams; at: number[]; want: number[] }[] = [
  { name: '10r/s burst 0: one per 100 ms', p: { rate: 10_000, burst: 0, nodelay: false }, at: [0, 50, 100, 150, 200], want: [0, R, 0, R, 0] },
  { name: '10r/s burst 5 nodelay: 1 + burst at once, then refused', p: { rate: 10_000, burst: 5, nodelay: true }, at: [0, 0, 0, 0, 0, 0, 0], want: [0, 0, 0, 0, 0, 0, R] },
  { name: '10r/s burst 5 delayed: spaced at the rate', p: { rate: 10_000, burst: 5, nodelay: false }, at: [0, 0, 0, 0, 0, 0, 0], want: [0, 100, 200, 300, 400, 500, R] },
  { name: 'the bucket drains: full again after burst / rate', p: { rate: 10_000, burst: 2, nodelay: true }, at: [0, 0, 0, 0, 300, 300, 300], want: [0, 0, 0, R, 0, 0, 0] },
  { name: '60r/m = 1 r/s: a refused request does not reset the clock', p: { rate: 1_000, burst: 0, nodelay: false }, at: [0, 500, 999, 1000, 1500], want: [0, R, R, 0, R] },
  { name: 'partial drain: excess 1000 → 500 after 50 ms at 10r/s', p: { rate: 10_000, burst: 1, nodelay: false }, at: [0, 0, 50], want: [0, 100, R] },
  { name: 'a clock that went back counts as no time', p: { rate: 10_000, burst: 1, nodelay: true }, at: [1000, 900, 900], want: [0, 0, R] },
];

for (const c of cases) {
  test(`limit_req: ${c.name}`, () => {
    const s = { excess: 0, last: -1 };
    assert.deepEqual(
      c.at.map((t) => limitReq(s, c.p, t)),
      c.want,
    );
  });
}

test('limit_req: over a long run, rate × time + 1 + burst pass (nginx)', () => {
  const p = { rate: 20_000, burst: 10, nodelay: true };
  const s = { excess: 0, last: -1 };
  let passed = 0;
  // 1000 requests per second for 3 s (one per ms).
  for (let t = 0; t < 3000; t++) if (limitReq(s, p, t) === 0) passed++;
  // 20 r/s for 3 s = 60, plus the first and the burst; ±1 for the edge.
  assert.ok(passed >= 70 && passed <= 71, `passed ${passed}`);
});
