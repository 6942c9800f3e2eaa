/**
 * Time periods (Nagios `timeperiod`): weekly ranges read in a time zone. Pure: the
 * caller passes the instant.
 */
import { BUILTIN_PERIODS, WEEKDAYS, type TimePeriodConfig } from '../../config/monitor-schema.ts';

const DAY_INDEX: Readonly<Record<string, number>> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/** Weekday (0 = Sunday) and minute of the day of `epochMs` in `timeZone` (default: the system's). */
export type LocalTime = (epochMs: number) => { weekday: number; minute: number };

export function localTimeIn(timeZone: string | undefined): LocalTime {
  const fmt = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  return (epochMs) => {
    let weekday = 0;
    let hour = 0;
    let minute = 0;
    for (const p of fmt.formatToParts(epochMs)) {
      if (p.type === 'weekday') weekday = DAY_INDEX[p.value] ?? 0;
      else if (p.type === 'hour') hour = Number(p.value);
      else if (p.type === 'minute') minute = Number(p.value);
    }
    return { weekday, minute: hour * 60 + minute };
  };
}

export interface Periods {
  /** True when `epochMs` lies in the period; an unknown name counts as never. */
  contains(name: string, epochMs: number): boolean;
}

export function createPeriods(custom: Readonly<Record<string, TimePeriodConfig>>, timeZone: string | undefined): Periods {
  const local = localTimeIn(timeZone);
  const all: Record<string, TimePeriodConfig> = { ...BUILTIN_PERIODS, ...custom };
  return {
    contains(name, epochMs) {
      const p = all[name];
      if (p === undefined) return false;
      if (name === '24x7') return true;
      const t = local(epochMs);
      const ranges = p[WEEKDAYS[t.weekday]!];
      return ranges !== undefined && ranges.some(([a, b]) => t.minute >= a && t.minute < b);
    },
  };
}
