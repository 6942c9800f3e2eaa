/**
 * Effective weight: the configured weight, changed by what the backend reports
 * (exec `dynamic`, agent `N%`) and ramped after it comes up (slow start). Pure.
 */
import type { DynamicWeight } from './types.ts';

/** Slow start begins at this percentage of the weight (Envoy `min_weight_percent`). */
export const SLOW_START_MIN_PERCENT = 10;

/**
 * The weight `sinceUpMs` after a backend came up, with a slow start of `slowStartMs`:
 * a linear ramp from `SLOW_START_MIN_PERCENT`% of `weight` to `weight`
 * (nginx `slow_start`, HAProxy `slowstart`). Never below a small positive share
 * while ramping, so that the backend still gets some traffic; 0 stays 0.
 */
export function slowStartWeight(sinceUpMs: number, slowStartMs: number, weight: number): number {
  if (weight <= 0) return 0;
  if (slowStartMs <= 0 || sinceUpMs >= slowStartMs) return weight;
  const fraction = Math.max(SLOW_START_MIN_PERCENT / 100, Math.max(0, sinceUpMs) / slowStartMs);
  return weight * fraction;
}

/** The configured weight as the backend's own report changes it. */
export function dynamicWeight(configured: number, dynamic: DynamicWeight | undefined): number {
  if (dynamic === undefined) return configured;
  if ('absolute' in dynamic) return dynamic.absolute;
  return (configured * dynamic.percent) / 100;
}

/**
 * Everything together: configured × dynamic, then slow start when `upSince` is known
 * (a backend that was up from the start does not ramp, as in HAProxy).
 */
export function effectiveWeight(configured: number, dynamic: DynamicWeight | undefined, slowStartMs: number, upSince: number | undefined, now: number): number {
  const w = dynamicWeight(configured, dynamic);
  return upSince === undefined ? w : slowStartWeight(now - upSince, slowStartMs, w);
}
