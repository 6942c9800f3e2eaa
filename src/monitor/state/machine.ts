/**
 * One check result applied to one host or service: Nagios' state types (Nagios Core
 * docs "State Types"), pure. A problem result counts attempts in SOFT states until
 * `max_check_attempts`, then the state becomes HARD; recoveries from SOFT problems
 * are soft recoveries, from HARD problems hard recoveries; a service whose host is
 * not UP goes HARD at once. The next check time is part of the output: the retry
 * interval while in a soft problem, the check interval otherwise.
 */
import type { AnyState, HostState, ObjectStatus, StateType } from './types.ts';
import type { CheckState } from '../result.ts';
import { initialHistory } from './flapping.ts';

export interface TransitionOptions {
  /** OK for services, UP for hosts. */
  okState: AnyState;
  maxAttempts: number;
  /** ms */
  checkInterval: number;
  /** ms */
  retryInterval: number;
  /** A service whose host is DOWN or UNREACHABLE: a problem is HARD at once. */
  forceHard: boolean;
}

export interface Transition {
  status: ObjectStatus;
  /** The state differs from the previous result's. */
  stateChanged: boolean;
  /** The hard state changed: a hard problem, a change between hard problems, or a hard recovery. */
  hardChange: boolean;
  /** A soft recovery (problem in SOFT → OK). */
  softRecovery: boolean;
  /** Nagios would log an ALERT line: a state change or a soft attempt. */
  alert: boolean;
}

/** The status of an object that has not been checked yet: OK / UP, HARD, like Nagios at start-up. */
export function initialStatus(okState: AnyState, now: number, code = 0): ObjectStatus {
  return {
    state: okState,
    stateType: 'HARD',
    attempt: 1,
    lastHardState: okState,
    lastCheck: 0,
    nextCheck: now,
    lastStateChange: now,
    lastHardStateChange: now,
    lastTimeOk: now,
    output: '',
    flapHistory: initialHistory(code),
    isFlapping: false,
    percentStateChange: 0,
    ack: undefined,
    notificationNumber: 0,
    lastNotification: 0,
    nextNotification: 0,
    noMoreNotifications: false,
    notifiedOn: [],
    recoveryHeld: false,
  };
}

export function applyResult(prev: ObjectStatus, state: AnyState, output: string, o: TransitionOptions, now: number): Transition {
  const ok = state === o.okState;
  const prevOk = prev.state === o.okState;
  let type: StateType;
  let attempt: number;
  if (ok) {
    attempt = 1;
    // A soft recovery stays SOFT for this one result; the next OK makes it HARD.
    type = !prevOk && prev.stateType === 'SOFT' ? 'SOFT' : 'HARD';
  } else if (prevOk) {
    attempt = 1;
    type = o.forceHard || o.maxAttempts <= 1 ? 'HARD' : 'SOFT';
  } else if (prev.stateType === 'SOFT') {
    attempt = Math.min(prev.attempt + 1, o.maxAttempts);
    type = o.forceHard || attempt >= o.maxAttempts ? 'HARD' : 'SOFT';
  } else {
    // Already in a hard problem: stays HARD (a change of problem state is a hard change).
    attempt = prev.attempt;
    type = 'HARD';
  }
  const stateChanged = state !== prev.state;
  const hardChange = type === 'HARD' && state !== prev.lastHardState;
  const softRecovery = ok && !prevOk && prev.stateType === 'SOFT';
  const status: ObjectStatus = {
    ...prev,
    state,
    stateType: type,
    attempt,
    output,
    lastCheck: now,
    nextCheck: now + (type === 'SOFT' && !ok ? o.retryInterval : o.checkInterval),
    lastStateChange: stateChanged ? now : prev.lastStateChange,
    lastHardState: type === 'HARD' ? state : prev.lastHardState,
    lastHardStateChange: hardChange ? now : prev.lastHardStateChange,
    lastTimeOk: ok ? now : prev.lastTimeOk,
  };
  return { status, stateChanged, hardChange, softRecovery, alert: stateChanged || (type === 'SOFT' && !ok) };
}

/**
 * A host check's result as a host state (Nagios Core docs "Host Checks" /
 * "Determining Status and Reachability of Network Hosts"): OK and WARNING are UP;
 * otherwise DOWN, or UNREACHABLE when the host has parents and none of them is UP.
 */
export function hostStateOf(result: CheckState, parentStates: readonly HostState[]): HostState {
  if (result === 'OK' || result === 'WARNING') return 'UP';
  if (parentStates.length > 0 && parentStates.every((p) => p !== 'UP')) return 'UNREACHABLE';
  return 'DOWN';
}

const CODE: Readonly<Record<AnyState, number>> = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3, UP: 0, DOWN: 1, UNREACHABLE: 2 };

/** The numeric code of a state (services 0-3 like plugins, hosts UP 0 / DOWN 1 / UNREACHABLE 2 like Nagios). */
export function stateCode(s: AnyState): number {
  return CODE[s];
}
