import { defaults } from '../../config/defaults.js';
import { duplicateField, type AccountRecord } from '../db/models/account.js';
import { MailUnavailableError } from '../mail/mailer.js';
import { endUserPast } from '../revocation/user-past.js';
import { linkTo, SELF_SERVICE_PATHS, type Origin, type SelfServiceDeps } from './deps.js';
import { sendVerification } from './email-verification.js';

const { restoreEmailTtl } = defaults.selfService;

export interface EmailChange {
  before: Pick<AccountRecord, '_id' | 'email' | 'username'>;
  after: AccountRecord;
}

/**
 * What follows a stored email change. Reset links mailed to the old address end (they are
 * also bound to it, src/registration/one-time-tokens.ts), the new address gets its
 * confirmation link and stays unverified until it is used. With `tellOldAddress` (the
 * user's own change), the old address is told and given a link that takes the account
 * back; an operator moving an account away from a lost mailbox does not tell that mailbox.
 * False when the confirmation mail could not go out.
 */
export async function emailChanged(deps: SelfServiceDeps, change: EmailChange, tellOldAddress: boolean): Promise<boolean> {
  const { before, after } = change;
  await deps.tokens.revokeAll(after._id, 'reset_password');
  const sent = after.email ? await sendVerification(deps, after) : true;
  if (tellOldAddress && before.email && before.email !== after.email) await tellOld(deps, before, before.email, after.email);
  return sent;
}

/** No name in it: whoever changed the address may have written the name too. */
async function tellOld(deps: SelfServiceDeps, before: EmailChange['before'], oldEmail: string, newEmail: string | undefined): Promise<void> {
  const token = await deps.tokens.issue({ purpose: 'restore_email', accountId: before._id, email: oldEmail }, restoreEmailTtl);
  try {
    await deps.mailer.send({
      to: oldEmail,
      subject: 'Your email address was changed',
      template: 'email-changed',
      data: {
        username: before.username, oldEmail, newEmail: newEmail ?? '(none)', changedAt: new Date().toUTCString(),
        link: linkTo(deps.settings, SELF_SERVICE_PATHS.restoreEmail, token), expiresDays: restoreEmailTtl / 86_400,
      },
    });
  } catch (err) {
    if (!(err instanceof MailUnavailableError)) throw err;
    await deps.events.record('mail.failed', { accountId: before._id, detail: { template: 'email-changed' } });
  }
}

export type RestoreOutcome = { ok: true; email: string } | { ok: false; reason: 'invalid_link' | 'email_taken' };

/**
 * "This was not me", from the mail to the old address: the account gets that address
 * back, verified (following the link proves it is theirs), and its past ends, so whoever
 * changed it is signed out everywhere and every link mailed to the other address is void.
 * The link outlives cut-offs on purpose: a thief's password reset must not disarm it.
 */
export async function restoreEmail(deps: SelfServiceDeps, token: string, origin: Origin): Promise<RestoreOutcome> {
  const link = await deps.tokens.consume('restore_email', token);
  if (!link?.record.email) return { ok: false, reason: 'invalid_link' };
  const { accountId, email } = link.record;
  try {
    const restored = await deps.accounts.model.updateOne({ _id: accountId }, { $set: { email, emailVerified: true } });
    if (restored.matchedCount === 0) return { ok: false, reason: 'invalid_link' };
  } catch (err) {
    if (duplicateField(err) === 'email') return { ok: false, reason: 'email_taken' };
    throw err;
  }
  await deps.tokens.revokeAll(accountId, 'restore_email');
  await deps.tokens.revokeAll(accountId, 'reset_password');
  await endUserPast(deps, accountId, 'revoked', { actor: 'email_restore', ...origin });
  await deps.events.record('profile.changed', { accountId, ...origin, detail: { fields: ['email'], restored: true } });
  return { ok: true, email };
}
