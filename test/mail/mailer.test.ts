import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Mailer, MailUnavailableError, type MailMessage } from '../../src/mail/mailer.js';
import { freePort } from '../support/server.js';
import { linkIn, startSmtpCapture, type SmtpCapture } from '../support/smtp.js';

const message: MailMessage = {
  to: 'alice@example.test',
  subject: 'Confirm your email address',
  template: 'verify-email',
  data: { name: 'Alice', email: 'alice@example.test', link: 'http://127.0.0.1:3000/verify-email?token=abc123', expiresHours: 24 },
};

let smtp: SmtpCapture;
beforeAll(async () => { smtp = await startSmtpCapture(); });
afterAll(async () => { await smtp.close(); });

function mailer(smtpUrl: string | undefined, outboxDir = tmpdir(), log: string[] = []) {
  return new Mailer({ smtpUrl, from: 'Account <no-reply@example.test>', outboxDir, log: (l) => log.push(l), retryDelaysMs: [10, 10] });
}

describe('mail', () => {
  it('delivers text and HTML from the views over real SMTP', async () => {
    await mailer(smtp.url).send(message);
    const mail = await smtp.next('alice@example.test');
    expect(mail.from).toBe('no-reply@example.test');
    expect(mail.raw).toMatch(/Subject: Confirm your email address/);
    expect(mail.raw).toMatch(/Content-Type: text\/plain/);
    expect(mail.raw).toMatch(/Content-Type: text\/html/);
    expect(linkIn(mail)).toBe('http://127.0.0.1:3000/verify-email?token=abc123');
  });

  it('retries, logs without the body, and then says it failed instead of losing the mail silently', async () => {
    const log: string[] = [];
    const closedPort = await freePort();
    await expect(mailer(`smtp://127.0.0.1:${closedPort}`, tmpdir(), log).send(message)).rejects.toBeInstanceOf(MailUnavailableError);
    expect(log).toHaveLength(3);
    expect(log.join('\n')).not.toContain('abc123');
  });

  it('writes development mail to the outbox and prints its links', async () => {
    const outbox = await mkdtemp(path.join(tmpdir(), 'outbox-'));
    const log: string[] = [];
    await mailer(undefined, outbox, log).send(message);
    const files = await readdir(outbox);
    expect(files).toHaveLength(1);
    expect(await readFile(path.join(outbox, files[0]!), 'utf8')).toMatch(/To: alice@example.test/);
    expect(log.join('\n')).toContain('http://127.0.0.1:3000/verify-email?token=abc123');
  });
});
