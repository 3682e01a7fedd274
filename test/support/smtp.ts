import { SMTPServer } from 'smtp-server';

import { freePort } from './server.js';

export interface CapturedMail {
  from: string;
  to: string[];
  raw: string;
}

export interface SmtpCapture {
  url: string;
  port: number;
  mails: CapturedMail[];
  /** Resolves with the next mail addressed to `to` (or already received). */
  next(to: string): Promise<CapturedMail>;
  close(): Promise<void>;
}

/** A real SMTP server on loopback that keeps every mail it receives (nodemailer's smtp-server).
 * `acceptDelayMs` makes it slow to accept each mail, like a distant relay. */
export async function startSmtpCapture(options: { acceptDelayMs?: number } = {}): Promise<SmtpCapture> {
  const mails: CapturedMail[] = [];
  const waiters: Array<{ to: string; resolve: (mail: CapturedMail) => void }> = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const mail: CapturedMail = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        };
        mails.push(mail);
        for (const waiter of [...waiters]) {
          if (!mail.to.includes(waiter.to)) continue;
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(mail);
        }
        setTimeout(callback, options.acceptDelayMs ?? 0);
      });
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const taken = new Set<CapturedMail>();
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    mails,
    next(to) {
      const waiting = mails.find((m) => m.to.includes(to) && !taken.has(m));
      const found = waiting
        ? Promise.resolve(waiting)
        : new Promise<CapturedMail>((resolve) => waiters.push({ to, resolve }));
      return found.then((mail) => { taken.add(mail); return mail; });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The first http(s) link in a mail's text part (quoted-printable soft breaks undone). */
export function linkIn(mail: CapturedMail): string {
  const text = mail.raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
  const link = text.match(/https?:\/\/[^\s"<>]+/)?.[0];
  if (!link) throw new Error('no link in mail');
  return link;
}
