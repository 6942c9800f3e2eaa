/**
 * "Free below" thresholds as check_swap, check_disk and a memory check use them: a
 * percentage of the total or a number of bytes. Pure.
 */
import type { FreeThreshold } from '../../config/check-schema.ts';

/** True when `free` (of `total`) is below the threshold. */
export function freeBelow(th: FreeThreshold, free: number, total: number): boolean {
  if (th.kind === 'bytes') return free < th.value;
  if (total <= 0) return true;
  return (free / total) * 100 < th.value;
}

/** The threshold as a number of free bytes (for perfdata warn / crit). */
export function freeBytes(th: FreeThreshold, total: number): number {
  return th.kind === 'bytes' ? th.value : Math.floor((total * th.value) / 100);
}

/** The threshold as written back (`20%`, `536870912B`) for messages. */
export function freeText(th: FreeThreshold): string {
  return th.kind === 'percent' ? `${th.value}%` : `${th.value}B`;
}
