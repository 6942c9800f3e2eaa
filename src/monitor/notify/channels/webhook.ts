/** A JSON POST per notice and contact to the contact's webhook URL. */
import type { ContactConfig, MonitorConfig } from '../../../config/monitor-schema.ts';
import { subjectOf, type Notice } from '../notice.ts';
import { httpSend } from './http.ts';
import type { Channel } from './types.ts';

export class WebhookChannel implements Channel {
  readonly name = 'webhook';
  readonly #cfg: MonitorConfig['channels']['webhook'];

  constructor(cfg: MonitorConfig['channels']['webhook']) {
    this.#cfg = cfg;
  }

  applies(contact: ContactConfig): boolean {
    return contact.webhook !== undefined;
  }

  async deliver(n: Notice, name: string, contact: ContactConfig, signal: AbortSignal): Promise<void> {
    const body = JSON.stringify({
      type: n.type,
      host: n.host,
      service: n.service ?? null,
      state: n.state,
      output: n.output,
      number: n.number,
      time: new Date(n.time).toISOString(),
      author: n.author ?? null,
      comment: n.comment ?? null,
      contact: name,
      subject: subjectOf(n),
    });
    await httpSend(contact.webhook!, { method: 'POST', headers: { 'content-type': 'application/json', ...this.#cfg.headers }, body }, this.#cfg.timeout, signal);
  }
}
