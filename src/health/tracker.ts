/**
 * The rise/fall tracker: a pure reducer from (state, input, now) to a new state and,
 * only when the backend's effective state changes, a flip.
 *
 * Inputs are check results, operator admin changes and passive ejections. The
 * effective state combines them:
 *
 *   operator maint > operator drain > agent maint > health down / ejected > agent drain > up
 *
 * Operator states override everything until cleared (checks keep running underneath,
 * so that clearing them shows the current health at once, without a flap). An agent's
 * `drain` yields to a failed health, since a drained backend that is dead must not get
 * persistent traffic either.
 */
import type { AdminState, BackendState, CheckResult, DynamicWeight, FlipSource } from './types.ts';
import { describeResult } from './types.ts';

export interface TrackerOptions {
  /** Consecutive successes to come up. */
  readonly rise: number;
  /** Consecutive failures to go down. */
  readonly fall: number;
  /** Interval while stable, ms. */
  readonly interval: number;
  /** Interval while changing (after a first opposite result), ms. */
  readonly fast: number;
  /** Interval while down, ms. */
  readonly down: number;
}

export interface LastResult extends CheckResult {
  /** Clock time the result arrived, in ms. */
  readonly at: number;
}

export interface TrackerState {
  /** What the checks say, after rise/fall. */
  readonly health: 'up' | 'down';
  /** Consecutive results that contradict `health` (successes while down, failures while up). */
  readonly streak: number;
  /** Started `up` and no result yet: the first failure takes it down at once (HAProxy). */
  readonly fresh: boolean;
  /** Operator override, until cleared. */
  readonly admin: 'drain' | 'maint' | undefined;
  /** Drain/maint requested by an agent reply, until it says `ready`. */
  readonly agent: 'drain' | 'maint' | undefined;
  /** Reason of a passive ejection in force, else undefined. */
  readonly ejected: string | undefined;
  /** Weight reported by the backend (exec dynamic, agent), else undefined. */
  readonly dynamic: DynamicWeight | undefined;
  readonly last: LastResult | undefined;
  /** Clock time of the last change of the effective state (or of creation), ms. */
  readonly since: number;
  /** Clock time the effective state last became `up` by a flip (slow start); undefined if up since creation. */
  readonly upSince: number | undefined;
}

/** A change of the effective state. */
export interface Flip {
  readonly from: BackendState;
  readonly to: BackendState;
  readonly source: FlipSource;
  readonly reason: string;
}

export interface Step {
  readonly state: TrackerState;
  /** Present only when the effective state changed. */
  readonly flip?: Flip;
  /** True when `dynamic` changed (the effective weight must be pushed). */
  readonly weightChanged: boolean;
}

/** A new tracker; `start` is the check's `start` option, or `up` for backends without active checks. */
export function initialTracker(start: 'up' | 'down', now: number): TrackerState {
  return {
    health: start,
    streak: 0,
    fresh: start === 'up',
    admin: undefined,
    agent: undefined,
    ejected: undefined,
    dynamic: undefined,
    last: undefined,
    since: now,
    upSince: undefined,
  };
}

export function effectiveState(s: Pick<TrackerState, 'health' | 'admin' | 'agent' | 'ejected'>): BackendState {
  if (s.admin !== undefined) return s.admin;
  if (s.agent === 'maint') return 'maint';
  if (s.health === 'down' || s.ejected !== undefined) return 'down';
  if (s.agent === 'drain') return 'drain';
  return 'up';
}

/** The interval until the next check (HAProxy `inter` / `fastinter` / `downinter`). */
export function nextInterval(s: TrackerState, o: TrackerOptions): number {
  if (s.streak > 0) return o.fast;
  if (s.health === 'down') return o.down;
  return o.interval;
}

function finish(before: TrackerState, after: TrackerState, source: FlipSource, reason: () => string, now: number, weightChanged: boolean): Step {
  const from = effectiveState(before);
  const to = effectiveState(after);
  if (from === to) return { state: after, weightChanged };
  const state: TrackerState = { ...after, since: now, upSince: to === 'up' ? now : after.upSince };
  return { state, flip: { from, to, source, reason: reason() }, weightChanged };
}

function sameWeight(a: DynamicWeight | undefined, b: DynamicWeight | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if ('absolute' in a) return 'absolute' in b && a.absolute === b.absolute;
  return 'percent' in b && a.percent === b.percent;
}

/** Feeds one check result. */
export function trackResult(s: TrackerState, r: CheckResult, o: TrackerOptions, now: number): Step {
  let { health, streak } = s;
  let counted = '';
  if (r.ok) {
    if (health === 'up') streak = 0;
    else if (++streak >= o.rise) {
      counted = `${streak} consecutive ${streak === 1 ? 'success' : 'successes'}`;
      health = 'up';
      streak = 0;
    }
  } else if (health === 'down') {
    streak = 0;
  } else if (s.fresh) {
    counted = 'first check';
    health = 'down';
    streak = 0;
  } else if (++streak >= o.fall) {
    counted = `${streak} consecutive ${streak === 1 ? 'failure' : 'failures'}`;
    health = 'down';
    streak = 0;
  }

  let agent = s.agent;
  if (r.agentAdmin === 'ready') agent = undefined;
  else if (r.agentAdmin !== undefined) agent = r.agentAdmin;

  let dynamic = s.dynamic;
  if (r.weight === null) dynamic = undefined;
  else if (r.weight !== undefined) dynamic = r.weight;

  const after: TrackerState = { ...s, health, streak, fresh: false, agent, dynamic, last: { ...r, at: now } };
  const healthFlipped = health !== s.health;
  const source: FlipSource = !healthFlipped && agent !== s.agent ? 'agent' : 'check';
  const reason = () => {
    const what = r.detail ? `${describeResult(r)}: ${r.detail}` : describeResult(r);
    return healthFlipped ? `${what} (${counted})` : `agent says ${r.agentAdmin ?? 'up'}`;
  };
  return finish(s, after, source, reason, now, !sameWeight(s.dynamic, dynamic));
}

/** The operator sets `drain` / `maint`, or clears them with `up`. */
export function trackAdmin(s: TrackerState, admin: AdminState, now: number): Step {
  const after: TrackerState = { ...s, admin: admin === 'up' ? undefined : admin };
  return finish(s, after, 'operator', () => `operator ${admin === 'up' ? 'cleared ' + (s.admin ?? 'nothing') : admin}`, now, false);
}

/** Passive detection ejects the backend (`reason`) or lets it return (`undefined`). */
export function trackEjection(s: TrackerState, reason: string | undefined, now: number): Step {
  const after: TrackerState = { ...s, ejected: reason };
  return finish(s, after, 'passive', () => reason ?? `ejection ended (${s.ejected ?? ''})`, now, false);
}
