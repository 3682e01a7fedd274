import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import ejs from 'ejs';
import nodemailer, { type Transporter } from 'nodemailer';

import { defaults } from '../../config/defaults.js';
import { viewsDir } from '../config/paths.js';

/** A mail template under views/mail/: `<name>.txt.ejs` and `<name>.html.ejs`. */
export type MailTemplate = 'verify-email' | 'reset-password' | 'password-changed' | 'email-changed' | 'two-step-changed';

export interface MailMessage {
  to: string;
  subject: string;
  template: MailTemplate;
  data: Record<string, unknown>;
}

/** Every delivery attempt failed; the caller tells the person to try again. */
export class MailUnavailableError extends Error {
  override name = 'MailUnavailableError';
}

export interface MailerOptions {
  /** SMTP connection URL (smtp:// or smtps://); absent = write to the outbox directory. */
  smtpUrl: string | undefined;
  from: string;
  /** Where development mail goes when there is no SMTP server. */
  outboxDir: string;
  log: (line: string) => void;
  /** Waits between attempts; the tests shorten them. */
  retryDelaysMs?: readonly number[];
}

/**
 * Sends the server's mail: over SMTP in production, into an outbox directory (one .eml
 * file per mail, links printed on the console) in development, so `npm start` alone shows
 * every flow. A failed delivery is retried a few times and logged; if it still fails the
 * caller gets MailUnavailableError rather than a silent loss.
 */
export class Mailer {
  readonly #transport: Transporter;
  readonly #options: MailerOptions;

  constructor(options: MailerOptions) {
    this.#options = options;
    this.#transport = options.smtpUrl
      ? nodemailer.createTransport(options.smtpUrl)
      : nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  }

  async send(message: MailMessage): Promise<void> {
    const [text, html] = await Promise.all([render(message, 'txt'), render(message, 'html')]);
    const mail = { from: this.#options.from, to: message.to, subject: message.subject, text, html };
    const delays = this.#options.retryDelaysMs ?? defaults.mail.retryDelaysMs;
    for (let attempt = 0; ; attempt += 1) {
      try {
        const info = await this.#transport.sendMail(mail);
        if (!this.#options.smtpUrl) await this.#toOutbox(message, info.message as Buffer, text);
        return;
      } catch (err) {
        // The address is the recipient's; the body (which holds single-use links) is never logged.
        this.#options.log(`mail: sending "${message.template}" failed (attempt ${attempt + 1}): ${(err as Error).message}`);
        const delay = delays[attempt];
        if (delay === undefined) throw new MailUnavailableError('mail could not be sent');
        await sleep(delay);
      }
    }
  }

  async close(): Promise<void> {
    this.#transport.close();
  }

  /** Development only: the raw mail on disk and its links on the console. */
  async #toOutbox(message: MailMessage, raw: Buffer, text: string): Promise<void> {
    await mkdir(this.#options.outboxDir, { recursive: true });
    const file = path.join(this.#options.outboxDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${message.template}.eml`);
    await writeFile(file, raw);
    const links = text.match(/https?:\/\/\S+/g) ?? [];
    this.#options.log(`mail (development outbox) to ${message.to}: ${message.subject}\n${links.map((l) => `  ${l}`).join('\n')}\n  saved as ${file}`);
  }
}

function render(message: MailMessage, kind: 'txt' | 'html'): Promise<string> {
  return ejs.renderFile(path.join(viewsDir, 'mail', `${message.template}.${kind}.ejs`), message.data, { async: false });
}
