import type { SecurityEventType } from '../db/models/security-event.js';
import type { AccountRecord } from '../db/models/account.js';
import { MailUnavailableError, type Mailer } from '../mail/mailer.js';
import type { RequestOrigin, SecurityEvents } from '../security/events.js';

/** The factor changes people are told of, in the words the mail uses. */
const WORDS = {
  'mfa.totp_added': 'an authenticator app was added.',
  'mfa.totp_removed': 'the authenticator app was removed.',
  'mfa.passkey_added': 'a passkey was added; it can sign you in without your password.',
  'mfa.passkey_removed': 'a passkey was removed.',
  'mfa.recovery_codes_generated': 'new recovery codes were made; the old ones no longer work.',
  'user.mfa_reset': 'an administrator removed every second step from your account.',
} as const satisfies Partial<Record<SecurityEventType, string>>;

export type FactorChange = keyof typeof WORDS;

/**
 * Every change to how an account's second step works is a security event (shown in the
 * account's activity) and a mail to its address, so a change the owner did not make is
 * noticed. A mail that cannot go out is itself recorded; the change stands.
 */
export class FactorChanges {
  readonly #events: SecurityEvents;
  readonly #mailer: Mailer;
  readonly #accountUrl: string;

  constructor(deps: { events: SecurityEvents; mailer: Mailer; issuer: string }) {
    this.#events = deps.events;
    this.#mailer = deps.mailer;
    this.#accountUrl = `${deps.issuer}/account`;
  }

  async recorded(account: AccountRecord, change: FactorChange, origin: RequestOrigin & { actor?: string }): Promise<void> {
    const { actor, ...where } = origin;
    await this.#events.record(change, { accountId: account._id, ...where, detail: actor ? { actor } : {} });
    await this.notify(account, change);
  }

  /** The mail alone, for a change whose event is recorded elsewhere (an operator's reset). */
  async notify(account: AccountRecord, change: FactorChange): Promise<void> {
    if (!account.email) return;
    try {
      await this.#mailer.send({
        to: account.email, subject: 'Your two-step verification changed', template: 'two-step-changed',
        data: { name: account.name, username: account.username, change: WORDS[change], changedAt: new Date().toUTCString(), accountUrl: this.#accountUrl },
      });
    } catch (err) {
      if (!(err instanceof MailUnavailableError)) throw err;
      await this.#events.record('mail.failed', { accountId: account._id, detail: { template: 'two-step-changed' } });
    }
  }
}
