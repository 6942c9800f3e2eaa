/**
 * The balancer: one scheduler per service, chosen by name from the cluster file.
 * `createScheduler` is the only constructor the proxy needs; the per-algorithm
 * factories are exported for tests and benchmarks.
 */
import type { SchedulerConfig } from '../config/scheduler-schema.ts';
import { type Clock, systemClock } from '../core/clock.ts';
import { createDestinationHash } from './dh.ts';
import { createLeastTime } from './ewma.ts';
import { createFirst } from './first.ts';
import { createFailover } from './fo.ts';
import { createKeyHash } from './hash.ts';
import { createIpHash } from './ip-hash.ts';
import { createLocalityLeastConnection } from './lblc.ts';
import { createLocalityReplicated } from './lblcr.ts';
import { createLeastConnection } from './lc.ts';
import { createLeastRequest } from './least-request.ts';
import { createMaglev } from './mh.ts';
import { createNeverQueue } from './nq.ts';
import { createOverflow } from './ovf.ts';
import { createRandom, createRandomTwo } from './random.ts';
import { createRoundRobin } from './rr.ts';
import { createShortestExpectedDelay } from './sed.ts';
import { createSourceHash } from './sh.ts';
import { createSmoothWeighted } from './swrr.ts';
import { createTwoChoices } from './twos.ts';
import type { Backend, Random, Scheduler } from './types.ts';
import { createWeightedLeastConnection } from './wlc.ts';
import { createWeightedRoundRobin } from './wrr.ts';

export type { Backend, PickContext, Random, Scheduler } from './types.ts';
export { isFull, overhead } from './pool.ts';
export { hashKeyOf, readArg, type HashKeySource } from './key-spec.ts';
export { PersistenceTable, type PersistenceEntry, type PersistenceOptions } from './persistence.ts';
export { StickyCookies, stickySecret, stickyValue, readCookie, type StickyOptions } from './sticky.ts';
export { WaitQueue, type QueueOutcome, type QueueTicket, type QueueTimers, type Waiter, type WaitQueueOptions } from './queue.ts';

export interface SchedulerDeps {
  /** Random numbers in [0, 1) for random, random_two, twos, least_request, least_time/ewma. Default Math.random. */
  random?: Random;
  /** Clock for lblc/lblcr expiry and the least_time/ewma average. Default the system's monotonic clock. */
  clock?: Clock;
}

/**
 * Builds the scheduler a service's config names, over the given backends (in
 * cluster-file order; the proxy owns the objects and their counters). Every
 * backend starts up, at its configured weight.
 */
export function createScheduler(config: SchedulerConfig, backends: readonly Backend[], deps: SchedulerDeps = {}): Scheduler {
  const random = deps.random ?? Math.random;
  const clock = deps.clock ?? systemClock;
  switch (config.name) {
    case 'rr':
      return createRoundRobin(backends);
    case 'wrr':
      return createWeightedRoundRobin(backends);
    case 'swrr':
      return createSmoothWeighted(backends);
    case 'lc':
      return createLeastConnection(backends);
    case 'wlc':
      return createWeightedLeastConnection(backends);
    case 'sed':
      return createShortestExpectedDelay(backends);
    case 'nq':
      return createNeverQueue(backends);
    case 'lblc':
      return createLocalityLeastConnection(backends, { expire: config.lblc_expire, maxEntries: config.lblc_max_entries }, clock);
    case 'lblcr':
      return createLocalityReplicated(backends, { expire: config.lblc_expire, maxEntries: config.lblc_max_entries }, clock);
    case 'dh':
      return createDestinationHash(backends);
    case 'sh':
      return createSourceHash(backends, { port: config.sh_port, fallback: config.sh_fallback });
    case 'mh':
      return createMaglev(backends, { tableSize: config.table_size, port: config.mh_port, fallback: config.mh_fallback });
    case 'fo':
      return createFailover(backends);
    case 'ovf':
      return createOverflow(backends);
    case 'twos':
      return createTwoChoices(backends, random);
    case 'ip_hash':
      return createIpHash(backends);
    case 'hash':
      return createKeyHash(backends, { consistent: config.consistent, balanceFactor: config.hash_balance_factor });
    case 'random':
      return createRandom(backends, random);
    case 'random_two':
      return createRandomTwo(backends, random);
    case 'least_request':
      return createLeastRequest(backends, { bias: config.bias, choices: config.choices }, random);
    case 'least_time':
    case 'ewma':
      return createLeastTime(config.name, backends, { choices: config.choices, decay: config.decay }, random, clock);
    case 'first':
      return createFirst(backends);
  }
}
