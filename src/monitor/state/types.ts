/**
 * The vocabulary of the Nagios state logic: host and service states, state types,
 * the status kept per object, and the events the logic emits (never I/O).
 */
import type { CheckState } from '../result.ts';

export type HostState = 'UP' | 'DOWN' | 'UNREACHABLE';
export type StateType = 'SOFT' | 'HARD';
export type AnyState = CheckState | HostState;

/** A host (`service` undefined) or one of its services. */
export interface ObjectRef {
  readonly host: string;
  readonly service?: string | undefined;
}

export function refKey(ref: ObjectRef): string {
  return ref.service === undefined ? ref.host : `${ref.host}/${ref.service}`;
}

/** Nagios notification types (the `$NOTIFICATIONTYPE$` macro). */
export type NotificationType =
  | 'PROBLEM'
  | 'RECOVERY'
  | 'ACKNOWLEDGEMENT'
  | 'FLAPPINGSTART'
  | 'FLAPPINGSTOP'
  | 'DOWNTIMESTART'
  | 'DOWNTIMEEND'
  | 'DOWNTIMECANCELLED';

export interface Acknowledgement {
  readonly sticky: boolean;
  readonly author: string;
  readonly comment: string;
  readonly time: number;
}

/** What the state logic keeps per host or service. Times are ms since the epoch. */
export interface ObjectStatus {
  state: AnyState;
  stateType: StateType;
  /** Current attempt, 1 … max_check_attempts. */
  attempt: number;
  /** The last hard state (Nagios `last_hard_state`). */
  lastHardState: AnyState;
  lastCheck: number;
  /** When the next check is due: `check_interval` after OK / hard results, `retry_interval` in a soft problem. */
  nextCheck: number;
  lastStateChange: number;
  lastHardStateChange: number;
  /** Last time the object was OK / UP (or when monitoring started): first_notification_delay counts from here. */
  lastTimeOk: number;
  output: string;
  /** The last 21 recorded states as codes, oldest first (flap detection). */
  flapHistory: number[];
  isFlapping: boolean;
  percentStateChange: number;
  ack: Acknowledgement | undefined;
  /** Problem notifications sent for the current problem (Nagios `current_notification_number`). */
  notificationNumber: number;
  lastNotification: number;
  /** No re-notification before this time. */
  nextNotification: number;
  /** notification_interval 0: this problem was notified once, no more. */
  noMoreNotifications: boolean;
  /** Problem states notified since the last recovery (a recovery goes out only if not empty). */
  notifiedOn: AnyState[];
  /** A recovery held back while flapping, sent when flapping stops in OK. */
  recoveryHeld: boolean;
}

export type MonitorEvent =
  | {
      /** A state change or a soft attempt: the line Nagios logs as SERVICE ALERT / HOST ALERT. */
      kind: 'STATE';
      ref: ObjectRef;
      state: AnyState;
      previous: AnyState;
      stateType: StateType;
      attempt: number;
      /** The hard state changed (the only changes that notify). */
      hardChange: boolean;
      output: string;
      time: number;
    }
  | { kind: 'FLAPPINGSTART' | 'FLAPPINGSTOP'; ref: ObjectRef; percent: number; time: number }
  | { kind: 'DOWNTIMESTART' | 'DOWNTIMEEND' | 'DOWNTIMECANCELLED'; ref: ObjectRef; downtime: number; time: number }
  | { kind: 'ACKNOWLEDGEMENT' | 'ACKREMOVED'; ref: ObjectRef; author: string; comment: string; sticky: boolean; time: number }
  | {
      /** A notification is due: the channels deliver it to each contact. */
      kind: 'NOTIFICATION';
      ref: ObjectRef;
      type: NotificationType;
      state: AnyState;
      /** Notification number of the current problem (recoveries carry the last problem's). */
      number: number;
      contacts: string[];
      output: string;
      author?: string;
      comment?: string;
      time: number;
    };
