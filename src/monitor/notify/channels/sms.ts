/**
 * SMS through an HTTP provider: the URL and body are templates whose placeholders
 * are escaped for the body's content type (and percent-encoded in the URL).
 */
import type { ContactConfig, MonitorConfig } from '../../../config/monitor-schema.ts';
import { shortOf, type Notice } from '../notice.ts';
import { renderTemplate, type Escaping } from '../template.ts';
import { httpSend } from './http.ts';
import { noticeVars, type Channel } from './types.ts';

type SmsConfig = NonNullable<MonitorConfig['channels']['sms']>;

const MIME: Readonly<Record<SmsConfig['content_type'], string>> = {
  form: 'application/x-www-form-urlencoded',
  json: 'application/json',
  text: 'text/plain; charset=utf-8',
  xml: 'application/xml',
};

export class SmsChannel implements Channel {
  readonly name = 'sms';
  readonly #cfg: SmsConfig;

  constructor(cfg: SmsConfig) {
    this.#cfg = cfg;
  }

  applies(contact: ContactConfig): boolean {
    return contact.sms !== undefined;
  }

  /** The request that would be sent (exported for tests and `palisade notify --dry-run`). */
  request(n: Notice, name: string, contact: ContactConfig): { url: string; method: string; headers: Record<string, string>; body: string | undefined } {
    const c = this.#cfg;
    const msg = shortOf(n);
    const vars = noticeVars(n, name, contact.sms, msg.length > c.max_length ? `${msg.slice(0, c.max_length - 1)}…` : msg);
    const url = renderTemplate(c.url, vars, 'url');
    const body = c.method === 'GET' ? undefined : renderTemplate(c.body, vars, c.content_type as Escaping);
    const headers: Record<string, string> = body === undefined ? { ...c.headers } : { 'content-type': MIME[c.content_type], ...c.headers };
    return { url, method: c.method, headers, body };
  }

  async deliver(n: Notice, name: string, contact: ContactConfig, signal: AbortSignal): Promise<void> {
    const r = this.request(n, name, contact);
    await httpSend(r.url, r, this.#cfg.timeout, signal);
  }
}
