/**
 * The notification path of the monitor role: the state engine's NOTIFICATION
 * events and Palisade's own events (VRRP transitions, split brain, backends down /
 * up, quorum lost) go to the delivery queue with their contacts. The daemon wires
 * Palisade's events in (`palisadeEvent`).
 */
import type { MonitorConfig } from '../../config/monitor-schema.ts';
import type { Logger } from '../../core/logger.ts';
import type { MonitorEvent } from '../state/types.ts';
import { CommandChannel } from './channels/command.ts';
import { EmailChannel } from './channels/email.ts';
import { SmsChannel } from './channels/sms.ts';
import type { Channel } from './channels/types.ts';
import { WebhookChannel } from './channels/webhook.ts';
import { noticeFromEvent, noticeFromPalisade, type PalisadeEvent } from './notice.ts';
import { NotificationQueue, type DeliveryOutcome } from './queue.ts';

export function channelsOf(cfg: MonitorConfig): Channel[] {
  const out: Channel[] = [];
  if (cfg.channels.email) out.push(new EmailChannel(cfg.channels.email));
  if (cfg.channels.sms) out.push(new SmsChannel(cfg.channels.sms));
  out.push(new WebhookChannel(cfg.channels.webhook), new CommandChannel(cfg.channels.command));
  return out;
}

export class Notifier {
  readonly queue: NotificationQueue;
  readonly #cfg: MonitorConfig;

  constructor(cfg: MonitorConfig, logger: Logger, opts: { onOutcome?: (o: DeliveryOutcome) => void; channels?: Channel[] } = {}) {
    this.#cfg = cfg;
    this.queue = new NotificationQueue({ channels: opts.channels ?? channelsOf(cfg), contacts: cfg.contacts, delivery: cfg.delivery, logger, onOutcome: opts.onOutcome });
  }

  /** Queues every NOTIFICATION among the engine's events; returns at once. */
  fromEngine(events: readonly MonitorEvent[]): void {
    for (const e of events) if (e.kind === 'NOTIFICATION' && e.contacts.length > 0) this.queue.enqueue(noticeFromEvent(e), e.contacts);
  }

  /** One of Palisade's own events, to `monitor.palisade_events`' contacts (filtered by kind). */
  palisadeEvent(e: PalisadeEvent): void {
    const p = this.#cfg.palisade_events;
    if (p.kinds.length > 0 && !p.kinds.includes(e.kind)) return;
    const contacts = new Set(p.contacts);
    for (const g of p.contact_groups) for (const c of this.#cfg.contact_groups[g] ?? []) contacts.add(c);
    if (contacts.size > 0) this.queue.enqueue(noticeFromPalisade(e), [...contacts].toSorted());
  }

  close(): void {
    this.queue.close();
  }
}
