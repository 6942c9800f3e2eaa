import type { SchedulerConfig } from '../config/scheduler-schema.ts';
import { createRoundRobin } from './rr.ts';
import { createSmoothWeighted } from './swrr.ts';
import type { Backend, Random, Scheduler } from './types.ts';

export type { Backend, PickContext, Random, Scheduler } from './types.ts';

export interface SchedulerDeps {
  random?: Random;
}

/** Builds the scheduler a service's config names, over the given backends. */
export function createScheduler(config: SchedulerConfig, backends: readonly Backend[], _deps: SchedulerDeps = {}): Scheduler {
  switch (config.name) {
    case 'rr':
      return createRoundRobin(backends);
    case 'swrr':
      return createSmoothWeighted(backends);
  }
}
