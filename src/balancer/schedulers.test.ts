/**
 * Every algorithm (and the option variants that change its promises) through the
 * one conformance suite in conformance.ts.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { SCHEDULER_NAMES, schedulerSchema, type SchedulerName } from '../config/scheduler-schema.ts';
import { runSchedulerCases, type SchedulerCase } from './conformance.ts';
import { createScheduler } from './index.ts';

type Spec = Omit<SchedulerCase, 'name' | 'create'> & { readonly config?: Record<string, unknown> };

const NOT_HASHING = { skip: 'not a hashing algorithm: no key-to-backend promise' } as const;
const HASH_NO_FALLBACK = 'as the kernel, without a fallback flag the hashed backend is the only candidate';

const SPECS: Record<SchedulerName, Spec> = {
  rr: { distribution: { expect: 'even', load: 'none', tolerance: 0.005 }, stability: NOT_HASHING },
  wrr: { distribution: { expect: 'weighted', load: 'none', tolerance: 0.005 }, stability: NOT_HASHING },
  swrr: { distribution: { expect: 'weighted', load: 'none', tolerance: 0.005 }, stability: NOT_HASHING },
  // lc ignores weights (other than 0): connections held spread evenly.
  lc: { distribution: { expect: 'even', load: 'held', tolerance: 0.01 }, stability: NOT_HASHING },
  wlc: { distribution: { expect: 'weighted', load: 'held', tolerance: 0.01 }, stability: NOT_HASHING },
  sed: { distribution: { expect: 'weighted', load: 'held', tolerance: 0.01 }, stability: NOT_HASHING },
  nq: { distribution: { expect: 'weighted', load: 'held', tolerance: 0.01 }, stability: NOT_HASHING },
  // Every context has a new destination, so each is placed by wlc.
  lblc: { distribution: { expect: 'weighted', load: 'held', tolerance: 0.02 }, stability: { skip: 'locality caches depend on load, not only on the key' } },
  lblcr: { distribution: { expect: 'weighted', load: 'held', tolerance: 0.02 }, stability: { skip: 'locality caches depend on load, not only on the key' } },
  // ip_vs_dh fills its 256 buckets with the backends in turn, whatever their weights.
  dh: { distribution: { expect: 'even', load: 'none', tolerance: 0.02 }, stability: { kind: 'fixed' }, mayMiss: `dh: ${HASH_NO_FALLBACK}` },
  sh: { distribution: { expect: 'weighted', load: 'none', tolerance: 0.025 }, stability: { kind: 'fixed' }, mayMiss: `sh: ${HASH_NO_FALLBACK}` },
  mh: { distribution: { expect: 'weighted', load: 'none', tolerance: 0.02 }, stability: { kind: 'minimal', tolerance: 0.03, viaDown: true }, mayMiss: `mh: ${HASH_NO_FALLBACK}` },
  fo: { distribution: { skip: 'failover sends everything to the highest-weight backend (table tests in choices.test.ts)' }, stability: NOT_HASHING },
  ovf: { distribution: { skip: 'overflow fills the highest-weight backend up to its weight first (table tests in choices.test.ts)' }, stability: NOT_HASHING },
  twos: { distribution: { expect: 'weighted', load: 'held', tolerance: 0.02 }, stability: NOT_HASHING },
  ip_hash: { distribution: { expect: 'weighted', load: 'none', tolerance: 0.02 }, stability: { kind: 'fixed' } },
  hash: { config: { key: '$request_uri' }, distribution: { expect: 'weighted', load: 'none', tolerance: 0.02 }, stability: { kind: 'fixed' } },
  random: { distribution: { expect: 'weighted', load: 'none', tolerance: 0.02 }, stability: NOT_HASHING },
  random_two: { distribution: { expect: 'weighted', load: 'held', tolerance: 0.02 }, stability: NOT_HASHING },
  // Without load the dynamic weights are the weights; with connections piling up, w ÷ (active + 1)
  // makes active grow as sqrt(weight) (Envoy's behaviour with bias 1), so "weighted" holds only at no load.
  least_request: { distribution: { expect: 'weighted', load: 'none', tolerance: 0.01 }, stability: NOT_HASHING },
  least_time: { distribution: { expect: 'weighted', load: 'held', tolerance: 0.03 }, stability: NOT_HASHING },
  ewma: { distribution: { expect: 'weighted', load: 'held', tolerance: 0.03 }, stability: NOT_HASHING },
  first: { distribution: { skip: 'first fills backends in config order up to max_conns (table tests in choices.test.ts)' }, stability: NOT_HASHING },
};

/** Option variants that change what an algorithm promises. */
const VARIANTS: [string, Record<string, unknown>, Spec][] = [
  ['sh sh_fallback sh_port', { name: 'sh', sh_fallback: true, sh_port: true }, { distribution: { expect: 'weighted', load: 'none', tolerance: 0.025 }, stability: { kind: 'fixed' } }],
  ['mh mh_fallback', { name: 'mh', mh_fallback: true }, { distribution: { expect: 'weighted', load: 'none', tolerance: 0.02 }, stability: { kind: 'minimal', tolerance: 0.03, viaDown: true } }],
  ['mh table_size 251', { name: 'mh', table_size: 251 }, { distribution: { expect: 'weighted', load: 'none', tolerance: 0.03 }, stability: { kind: 'minimal', tolerance: 0.08, viaDown: true }, mayMiss: `mh: ${HASH_NO_FALLBACK}` }],
  ['hash consistent', { name: 'hash', key: '$request_uri', consistent: true }, { distribution: { expect: 'weighted', load: 'none', tolerance: 0.03 }, stability: { kind: 'minimal', tolerance: 0.03, viaDown: true } }],
  ['hash consistent hash_balance_factor 125', { name: 'hash', key: '$request_uri', consistent: true, hash_balance_factor: 125 }, { distribution: { expect: 'weighted', load: 'held', tolerance: 0.03 }, stability: { kind: 'minimal', tolerance: 0.03, viaDown: true } }],
];

for (const name of SCHEDULER_NAMES) {
  const { config, ...spec } = SPECS[name];
  const parsed = schedulerSchema.parse({ name, ...config });
  runSchedulerCases({ name, create: (bs, deps) => createScheduler(parsed, bs, deps), ...spec });
}
for (const [title, config, spec] of VARIANTS) {
  const parsed = schedulerSchema.parse(config);
  runSchedulerCases({ name: title, create: (bs, deps) => createScheduler(parsed, bs, deps), ...spec });
}

it('createScheduler knows every name in SCHEDULER_NAMES and reports it', () => {
  for (const name of SCHEDULER_NAMES) {
    const cfg = schedulerSchema.parse(name === 'hash' ? { name, key: '$uri' } : name);
    assert.equal(createScheduler(cfg, []).name, name);
  }
});
