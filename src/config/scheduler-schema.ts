import { z } from 'zod';

/** Names of the scheduling algorithms a service may choose (see docs/schedulers.md). */
export const SCHEDULER_NAMES = ['rr', 'swrr'] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

const schedulerObject = z.strictObject({
  /** Algorithm name. */
  name: z.enum(SCHEDULER_NAMES),
});

/**
 * `scheduler:` in a service: either a bare name (`swrr`) or an object with the name
 * and its options. Normalised to the object form. Default `swrr`.
 */
export const schedulerSchema = z
  .union([z.enum(SCHEDULER_NAMES), schedulerObject])
  .default('swrr')
  .transform((v) => (typeof v === 'string' ? { name: v } : v));

export type SchedulerConfig = z.output<typeof schedulerSchema>;
