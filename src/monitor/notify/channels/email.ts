/** E-mail over SMTP with nodemailer: STARTTLS (required), implicit TLS or plain, optional AUTH. */
import { createTransport, type Transporter } from 'nodemailer';
import type { ContactConfig, MonitorConfig } from '../../../config/monitor-schema.ts';
import { bodyOf, subjectOf, type Notice } from '../notice.ts';
import type { Channel } from './types.ts';

type EmailConfig = NonNullable<MonitorConfig['channels']['email']>;

export class EmailChannel implements Channel {
  readonly name = 'email';
  readonly #cfg: EmailConfig;
  readonly #transport: Transporter;

  constructor(cfg: EmailConfig) {
    this.#cfg = cfg;
    this.#transport = createTransport({
      host: cfg.host,
      port: cfg.port,
      secure: cfg.security === 'tls',
      requireTLS: cfg.security === 'starttls',
      ignoreTLS: cfg.security === 'none',
      auth: cfg.user === undefined ? undefined : { user: cfg.user, pass: cfg.password ?? '' },
      tls: { rejectUnauthorized: cfg.verify_certificate },
      connectionTimeout: cfg.timeout,
      greetingTimeout: cfg.timeout,
      socketTimeout: cfg.timeout,
    });
  }

  applies(contact: ContactConfig): boolean {
    return contact.email !== undefined;
  }

  async deliver(n: Notice, _name: string, contact: ContactConfig, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    await this.#transport.sendMail({ from: this.#cfg.from, to: contact.email, subject: subjectOf(n), text: bodyOf(n) });
  }

  close(): void {
    this.#transport.close();
  }
}
