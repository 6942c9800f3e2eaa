/**
 * What the channels deliver: one notification, from the Nagios state logic or from
 * Palisade itself (VRRP, backends, quorum), with the text every channel shares.
 */
import type { MonitorEvent } from '../state/types.ts';

export interface Notice {
  /** PROBLEM, RECOVERY, ACKNOWLEDGEMENT, FLAPPINGSTART … or EVENT for Palisade's own events. */
  type: string;
  /** Host name, or the subject of a Palisade event (an instance, a backend, a service). */
  host: string;
  /** Service name; for a Palisade event, its kind (vrrp, backend, quorum, split_brain). */
  service: string | undefined;
  state: string;
  output: string;
  /** Notification number of the problem (0 for events). */
  number: number;
  /** ms since the epoch */
  time: number;
  author?: string | undefined;
  comment?: string | undefined;
}

/** Palisade's own events, given to the same notification path. */
export interface PalisadeEvent {
  /** vrrp, split_brain, backend, quorum, … */
  kind: string;
  /** What it is about: `VI_1`, `www/10.0.0.11:80`, … */
  subject: string;
  /** MASTER, BACKUP, FAULT, DOWN, UP, LOST, … */
  state: string;
  message: string;
  /** ms since the epoch */
  time: number;
}

export function noticeFromEvent(e: Extract<MonitorEvent, { kind: 'NOTIFICATION' }>): Notice {
  return { type: e.type, host: e.ref.host, service: e.ref.service, state: e.state, output: e.output, number: e.number, time: e.time, author: e.author, comment: e.comment };
}

export function noticeFromPalisade(e: PalisadeEvent): Notice {
  return { type: 'EVENT', host: e.subject, service: e.kind, state: e.state, output: e.message, number: 0, time: e.time };
}

/** `web1/http` or `web1`. */
export function objectName(n: Notice): string {
  return n.service === undefined ? n.host : `${n.host}/${n.service}`;
}

/** Subject line, Nagios style: `** PROBLEM Service Alert: web1/http is CRITICAL **`. */
export function subjectOf(n: Notice): string {
  if (n.type === 'EVENT') return `** Palisade ${n.service ?? 'event'}: ${n.host} is ${n.state} **`;
  const what = n.service === undefined ? 'Host' : 'Service';
  return `** ${n.type} ${what} Alert: ${objectName(n)} is ${n.state} **`;
}

/** Plain-text body: one fact a line. */
export function bodyOf(n: Notice): string {
  const lines = [`Notification type: ${n.type}`, n.service === undefined ? `Host: ${n.host}` : n.type === 'EVENT' ? `Event: ${n.service}\nSubject: ${n.host}` : `Host: ${n.host}\nService: ${n.service}`, `State: ${n.state}`, `Date/Time: ${new Date(n.time).toISOString()}`];
  if (n.number > 0) lines.push(`Notification number: ${n.number}`);
  if (n.author !== undefined) lines.push(`Author: ${n.author}`);
  if (n.comment !== undefined) lines.push(`Comment: ${n.comment}`);
  lines.push('', 'Info:', n.output);
  return `${lines.join('\n')}\n`;
}

/** One-line text for SMS: `PROBLEM web1/http CRITICAL: connection refused`. */
export function shortOf(n: Notice): string {
  return `${n.type === 'EVENT' ? (n.service ?? 'EVENT') : n.type} ${objectName(n)} ${n.state}: ${n.output}`;
}
