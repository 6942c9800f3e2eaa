/**
 * The conformance suite every scheduler runs (STYLE.md §2): usable backends only,
 * undefined (never a throw) when none is usable, distribution by weight where that
 * is the promise, and stable hashing where that is the promise. A case that skips a
 * check, or expects something else, says why in its spec.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../core/clock.ts';
import type { SchedulerDeps } from './index.ts';
import type { Backend, PickContext, Random, Scheduler } from './types.ts';

/** Deterministic [0, 1) numbers (mulberry32). */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Backends `10.0.0.1:80`, `10.0.0.2:80`, ... with the given configured weights. */
export function makeBackends(weights: readonly number[], opts: { maxConns?: number; firstHost?: number } = {}): Backend[] {
  return weights.map((weight, index) => {
    const host = `10.0.${Math.floor((index + (opts.firstHost ?? 1)) / 256)}.${(index + (opts.firstHost ?? 1)) % 256}`;
    return { id: `${host}:80`, index, host, port: 80, weight, maxConns: opts.maxConns ?? 0, active: 0, inactive: 0 };
  });
}

/** `count` request contexts whose client, port, destination and key all vary. */
export function makeContexts(count: number, seed = 1): PickContext[] {
  const r = seededRandom(seed);
  const octet = () => Math.floor(r() * 256);
  const out: PickContext[] = [];
  for (let i = 0; i < count; i++) {
    out.push({
      client: `${1 + Math.floor(r() * 222)}.${octet()}.${octet()}.${octet()}`,
      clientPort: 1024 + Math.floor(r() * 64000),
      destination: `${1 + Math.floor(r() * 222)}.${octet()}.${octet()}.${octet()}:80`,
      key: `/item/${i}?v=${octet()}`,
    });
  }
  return out;
}

/** What the distribution check expects of an algorithm. */
export type DistributionSpec =
  | {
      /** `weighted`: shares follow configured weights; `even`: equal shares whatever the weights. */
      readonly expect: 'weighted' | 'even';
      /**
       * `none`: counters stay 0 (each pick is independent); `held`: every pick keeps a
       * connection open (active + 1), as load-aware algorithms need to spread.
       */
      readonly load: 'none' | 'held';
      /** Largest allowed difference between a backend's share and its expected share (absolute, e.g. 0.02 = 2 points). */
      readonly tolerance: number;
    }
  | { readonly skip: string };

/** What the hashing-stability check expects. */
export type StabilitySpec =
  | { readonly skip: string }
  /** Same set of backends → same backend for every key (two instances, and after a down/up cycle of another backend). */
  | { readonly kind: 'fixed' }
  /**
   * Consistent hashing: when one of N backends leaves (a new instance without it, or
   * `down` when `viaDown`), at most 1/N + tolerance of the keys move, and of the keys
   * not on the leaving backend at most `tolerance` move; the same when one joins.
   */
  | { readonly kind: 'minimal'; readonly tolerance: number; readonly viaDown: boolean };

export interface SchedulerCase {
  /** Title of the suite, e.g. `mh` or `hash consistent`. */
  readonly name: string;
  /** Builds the scheduler under test. */
  create(backends: readonly Backend[], deps: SchedulerDeps): Scheduler;
  readonly distribution: DistributionSpec;
  readonly stability: StabilitySpec;
  /**
   * Set when the algorithm may return undefined although some backend is usable (a
   * hash without fallback whose hashed backend is unusable): the reason. Otherwise a
   * pick must find a usable backend whenever one exists.
   */
  readonly mayMiss?: string;
}

/** Share of keys whose backend differs between two runs. */
function moved(x: (string | undefined)[], y: (string | undefined)[]): number {
  return x.filter((id, k) => id !== y[k]).length / x.length;
}

function depsFor(seed: number): SchedulerDeps {
  return { random: seededRandom(seed), clock: new ManualClock(1_000_000) };
}

/** Registers the conformance tests of one algorithm (node:test `describe`/`it`). */
export function runSchedulerCases(c: SchedulerCase): void {
  describe(`scheduler ${c.name}: conformance`, () => {
    it('gives undefined, never a throw, without backends', () => {
      const s = c.create([], depsFor(1));
      for (const ctx of makeContexts(50)) assert.equal(s.pick(ctx), undefined);
      const stranger = makeBackends([1])[0]!;
      s.up(stranger);
      s.down(stranger);
      s.weight(stranger, 3);
      s.observe?.(stranger, 10, true);
      assert.equal(s.pick(makeContexts(1)[0]!), undefined);
    });

    it('gives undefined when every backend is down, at weight 0, full or rejected', () => {
      const bs = makeBackends([1, 1, 1, 1, 0], { maxConns: 1 });
      const s = c.create(bs, depsFor(2));
      s.down(bs[0]!);
      s.weight(bs[1]!, 0);
      bs[2]!.active = 1; // full: max_conns 1
      // bs[4] is configured with weight 0
      const accept = (b: Backend) => b !== bs[3];
      for (const ctx of makeContexts(300, 2)) assert.equal(s.pick({ ...ctx, accept }), undefined);
    });

    it('never picks a backend that is down, at weight 0 (configured or effective), full or rejected', () => {
      const bs = makeBackends([1, 1, 1, 1, 0, 1, 1], { maxConns: 2 });
      const s = c.create(bs, depsFor(3));
      s.down(bs[0]!);
      s.weight(bs[1]!, 0);
      bs[2]!.active = 2; // full
      const rejected = bs[3]!;
      const accept = (b: Backend) => b !== rejected;
      const allowed = new Set([bs[5], bs[6]]);
      let misses = 0;
      for (const ctx of makeContexts(3000, 3)) {
        const b = s.pick({ ...ctx, accept });
        if (b === undefined) {
          misses++;
          continue;
        }
        assert.ok(allowed.has(b), `picked ${b.id}, which is not usable`);
      }
      if (c.mayMiss === undefined) assert.equal(misses, 0, 'a usable backend existed for every pick');
    });

    it('takes a backend again after up, and at a restored weight', () => {
      const bs = makeBackends([1, 1, 1]);
      const s = c.create(bs, depsFor(4));
      s.down(bs[0]!);
      s.weight(bs[1]!, 0);
      const ctxs = makeContexts(3000, 4);
      for (const ctx of ctxs) {
        const b = s.pick(ctx);
        assert.ok(b === undefined || b === bs[2], `picked ${b?.id}`);
      }
      s.up(bs[0]!);
      s.weight(bs[1]!, 1);
      const seen = new Set<Backend>();
      // New contexts: locality schedulers rightly keep known destinations where they are.
      for (const ctx of makeContexts(3000, 44)) {
        const b = s.pick(ctx);
        if (b) seen.add(b);
      }
      assert.ok(seen.has(bs[0]!), 'the backend that came back up was never picked');
    });

    it('never throws on odd input', () => {
      const bs = makeBackends([1, 2]);
      const s = c.create(bs, depsFor(5));
      s.weight(bs[0]!, Number.NaN);
      s.weight(bs[0]!, -5);
      s.weight(bs[0]!, 1.5);
      s.observe?.(bs[0]!, Number.NaN, false);
      s.observe?.(bs[1]!, -1, true);
      const odd: PickContext[] = [
        { client: '', clientPort: 0, destination: '' },
        { client: 'not-an-address', clientPort: -1, destination: 'example.com:80' },
        { client: '::1', clientPort: 65535, destination: '[2001:db8::1]:443', key: '' },
        { client: '::ffff:192.0.2.7', clientPort: 80, destination: '::1', key: 'ü€😀\ud800' },
        { client: '2001:db8:0:0:1:0:0:1%eth0', clientPort: 99999, destination: '1.2.3.4' },
        { client: '999.1.1.1', clientPort: 1, destination: ':80' },
      ];
      for (const ctx of odd) {
        const b = s.pick(ctx);
        assert.ok(b === undefined || bs.includes(b));
      }
    });

    const dist = c.distribution;
    if ('skip' in dist) {
      it('distribution', { skip: dist.skip }, () => {});
    } else {
      it(`shares follow ${dist.expect === 'weighted' ? 'the weights 1:2:3:4' : 'equal shares'} within ±${dist.tolerance} (${dist.load === 'held' ? 'connections held' : 'no load'})`, () => {
        const weights = [1, 2, 3, 4];
        const bs = makeBackends(weights);
        const s = c.create(bs, depsFor(6));
        const counts = [0, 0, 0, 0];
        const picks = 20_000;
        for (const ctx of makeContexts(picks, 6)) {
          const b = s.pick(ctx);
          assert.ok(b, 'every pick finds a backend');
          counts[b.index]!++;
          if (dist.load === 'held') b.active++;
        }
        const total = weights.reduce((a, w) => a + w, 0);
        for (let i = 0; i < weights.length; i++) {
          const want = dist.expect === 'weighted' ? weights[i]! / total : 1 / weights.length;
          const got = counts[i]! / picks;
          assert.ok(Math.abs(got - want) <= dist.tolerance, `backend ${i} (weight ${weights[i]}): share ${got.toFixed(4)}, expected ${want.toFixed(4)} ± ${dist.tolerance}; counts ${counts.join(' ')}`);
        }
      });
    }

    const st = c.stability;
    if ('skip' in st) {
      it('hashing stability', { skip: st.skip }, () => {});
    } else if (st.kind === 'fixed') {
      it('maps every key to the same backend for a fixed set of backends', () => {
        const ctxs = makeContexts(2000, 7);
        const bs = makeBackends([1, 2, 1, 3, 1]);
        const a = c.create(bs, depsFor(7));
        const b = c.create(makeBackends([1, 2, 1, 3, 1]), depsFor(8));
        const first = ctxs.map((ctx) => a.pick(ctx)?.id);
        assert.deepEqual(
          ctxs.map((ctx) => b.pick(ctx)?.id),
          first,
          'another instance over the same set',
        );
        assert.deepEqual(
          ctxs.map((ctx) => a.pick(ctx)?.id),
          first,
          'the same instance, asked again',
        );
        a.down(bs[1]!);
        a.up(bs[1]!);
        assert.deepEqual(
          ctxs.map((ctx) => a.pick(ctx)?.id),
          first,
          'after a backend went down and came back',
        );
      });
    } else {
      const n = 10;
      const tol = st.tolerance;
      it(`moves at most 1/N + ${tol} of the keys when one of N=${n} backends leaves${st.viaDown ? ' (removed, or down)' : ' (removed)'}`, () => {
        const ctxs = makeContexts(20_000, 9);
        const all = makeBackends(Array.from({ length: n }, () => 1));
        const s = c.create(all, depsFor(9));
        const base = ctxs.map((ctx) => s.pick(ctx)?.id);
        const leaving = all[3]!;
        const variants: [string, (string | undefined)[]][] = [];
        const without = c.create(
          all.filter((b) => b !== leaving),
          depsFor(9),
        );
        variants.push(['removed', ctxs.map((ctx) => without.pick(ctx)?.id)]);
        if (st.viaDown) {
          s.down(leaving);
          variants.push(['down', ctxs.map((ctx) => s.pick(ctx)?.id)]);
        }
        for (const [how, after] of variants) {
          const share = moved(base, after);
          assert.ok(share <= 1 / n + tol, `${how}: ${(share * 100).toFixed(2)}% of keys moved, expected at most ${((1 / n + tol) * 100).toFixed(2)}%`);
          const stayers = base.map((id, k) => (id === leaving.id ? undefined : k)).filter((k) => k !== undefined);
          const movedStayers = stayers.filter((k) => after[k] !== base[k]).length / stayers.length;
          assert.ok(movedStayers <= tol, `${how}: ${(movedStayers * 100).toFixed(2)}% of the keys not on the leaving backend moved`);
          assert.ok(!after.includes(leaving.id), `${how}: the leaving backend still gets keys`);
        }
      });
      it(`moves at most 1/(N+1) + ${tol} of the keys when a backend joins N=${n}`, () => {
        const ctxs = makeContexts(20_000, 10);
        const all = makeBackends(Array.from({ length: n + 1 }, () => 1));
        const a = c.create(all.slice(0, n), depsFor(10));
        const b = c.create(all, depsFor(10));
        const x = ctxs.map((ctx) => a.pick(ctx)?.id);
        const y = ctxs.map((ctx) => b.pick(ctx)?.id);
        const share = moved(x, y);
        assert.ok(share <= 1 / (n + 1) + tol, `${(share * 100).toFixed(2)}% of keys moved`);
        const movedElsewhere = y.filter((id, k) => id !== x[k] && id !== all[n]!.id).length / y.length;
        assert.ok(movedElsewhere <= tol, `${(movedElsewhere * 100).toFixed(2)}% of keys moved between old backends`);
      });
    }
  });
}
