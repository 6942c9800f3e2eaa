import type { ContactConfig } from '../../../config/monitor-schema.ts';
import type { Notice } from '../notice.ts';

/** One way of delivering a notice to a contact. `deliver` rejects on failure (then retried). */
export interface Channel {
  readonly name: 'email' | 'sms' | 'webhook' | 'command';
  /** The contact has an address for this channel. */
  applies(contact: ContactConfig): boolean;
  deliver(notice: Notice, contactName: string, contact: ContactConfig, signal: AbortSignal): Promise<void>;
  close?(): void;
}

/** Template variables of a notice for one contact. */
export function noticeVars(n: Notice, contactName: string, to: string | undefined, message: string): Record<string, string | number | undefined> {
  return {
    type: n.type,
    host: n.host,
    service: n.service ?? '',
    state: n.state,
    output: n.output,
    number: n.number,
    time: new Date(n.time).toISOString(),
    author: n.author ?? '',
    comment: n.comment ?? '',
    contact: contactName,
    to,
    message,
  };
}
