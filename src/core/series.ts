/**
 * Performance-data time series as the history store answers them and the dashboard
 * draws them: the contract shared by store (src/store/history.ts) and web (DESIGN:
 * modules share only core and config).
 */

/** The history's tiers: raw samples, then its rollups from the finest to the coarsest. */
export type TierName = 'raw' | '1m' | '5m' | '1h' | '6h';

export interface SeriesPoint {
  /** Bucket start (or the sample's time for raw), ms since the epoch. */
  t: number;
  min: number;
  avg: number;
  max: number;
}

export interface Series {
  object: string;
  label: string;
  uom: string;
  tier: TierName;
  /** Bucket width in ms (0 for raw samples). */
  step: number;
  points: SeriesPoint[];
  /** Threshold lines from the latest perfdata: the finite ends of the ranges. */
  warn: number[];
  crit: number[];
  min: number | undefined;
  max: number | undefined;
}

/** pnp4nagios' default views: how far back each reaches, ms. */
export const VIEWS = { '4h': 4 * 3_600_000, '25h': 25 * 3_600_000, week: 7 * 86_400_000, month: 31 * 86_400_000, year: 365 * 86_400_000 } as const;
export type ViewName = keyof typeof VIEWS;
