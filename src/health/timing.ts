/**
 * When checks run: the interval with a random spread, so that the checks of many
 * backends do not fire together (HAProxy `spread-checks`). Pure; `random` is injected.
 */
import type { Jitter } from '../config/health-schema.ts';

/** A source of random numbers in [0, 1). */
export type Random = () => number;

/** The spread in ms: a fraction of the interval, or a fixed duration. */
export function jitterSpan(jitter: Jitter, interval: number): number {
  return jitter.kind === 'fraction' ? jitter.value * interval : jitter.value;
}

/** The next delay: `interval` ± the spread, never below 1ms. */
export function jitteredDelay(interval: number, jitter: Jitter, random: Random): number {
  const span = jitterSpan(jitter, interval);
  return Math.max(1, Math.round(interval + (random() * 2 - 1) * span));
}

/** The delay of the very first check: a random point within the spread (0 without jitter). */
export function firstDelay(interval: number, jitter: Jitter, random: Random): number {
  return Math.round(random() * Math.min(jitterSpan(jitter, interval), interval));
}
