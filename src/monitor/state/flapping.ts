/**
 * Nagios' flap detection (Nagios Core docs "Detection and Handling of State
 * Flapping"; flapping.c): the last 21 recorded states, each change weighted from
 * 0.75 (oldest) to 1.25 (newest), summed into a percent state change over the 20
 * possible changes; flapping starts at or above the high threshold and stops at or
 * below the low one (hysteresis: in between nothing changes).
 */

/** States kept (Nagios `MAX_STATE_HISTORY_ENTRIES`). */
export const FLAP_HISTORY = 21;
const LOW_WEIGHT = 0.75;
const HIGH_WEIGHT = 1.25;

/** A history of `FLAP_HISTORY` entries all equal to `code`. */
export function initialHistory(code: number): number[] {
  return Array.from({ length: FLAP_HISTORY }, () => code);
}

/** Appends the newest state, dropping the oldest (returns a new array). */
export function recordState(history: readonly number[], code: number): number[] {
  const out = history.slice(history.length >= FLAP_HISTORY ? history.length - FLAP_HISTORY + 1 : 0);
  out.push(code);
  return out;
}

/** Weighted percent state change of a history, oldest first (0-100). */
export function percentStateChange(history: readonly number[]): number {
  let sum = 0;
  for (let x = 1; x < history.length; x++) {
    if (history[x] !== history[x - 1]) sum += LOW_WEIGHT + ((x - 1) * (HIGH_WEIGHT - LOW_WEIGHT)) / (FLAP_HISTORY - 2);
  }
  return (sum * 100) / (FLAP_HISTORY - 1);
}

/** Whether the object flaps after this percent change, with hysteresis. */
export function isFlappingNow(wasFlapping: boolean, percent: number, low: number, high: number): boolean {
  if (percent <= low) return false;
  if (percent >= high) return true;
  return wasFlapping;
}
