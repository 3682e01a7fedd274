import { defaults } from '../../config/defaults.js';
import type { AccountRecord } from '../db/models/account.js';
import { MailUnavailableError } from '../mail/mailer.js';
import { atVersion, versionOf } from '../revocation/cutoff.js';
import { clientNetwork } from '../security/client-network.js';
import { linkTo, SELF_SERVICE_PATHS, type Origin, type SelfServiceDeps } from './deps.js';
import type { OneTimeTokenDoc } from './one-time-tokens.js';

type Recipient = Pick<AccountRecord, '_id' | 'email'>;

export type ResendOutcome = 'sent' | 'mail_failed' | 'rate_limited' | 'already_verified' | 'no_email';

const { verifyEmailTtl } = defaults.selfService;

/**
 * Mails a single-use link confirming the account's current email (at sign-up, on an email
 * change, on "send again"). False when the mail could not be sent after retries: the
 * caller tells the person to try again. `interactionUid` is the sign-in to continue after.
 * The mail carries nothing the account holder typed (not even their name): the address
 * is not proven theirs yet, so our mail to it must hold no text a stranger chose.
 */
export async function sendVerification(deps: SelfServiceDeps, account: Recipient, interactionUid?: string): Promise<boolean> {
  if (!account.email) return false;
  const token = await deps.tokens.issue(
    { purpose: 'verify_email', accountId: account._id, email: account.email, ...(interactionUid ? { interactionUid } : {}) },
    verifyEmailTtl,
  );
  try {
    await deps.mailer.send({
      to: account.email,
      subject: 'Confirm your email address',
      template: 'verify-email',
      data: { email: account.email, link: linkTo(deps.settings, SELF_SERVICE_PATHS.verifyEmail, token), expiresHours: verifyEmailTtl / 3600 },
    });
    return true;
  } catch (err) {
    if (!(err instanceof MailUnavailableError)) throw err;
    await deps.events.record('mail.failed', { accountId: account._id, detail: { template: 'verify-email' } });
    return false;
  }
}

/** "Send again" on the page that asks for a verified email: rate limited per account and per client network. */
export async function resendVerification(deps: SelfServiceDeps, accountId: string, interactionUid: string, origin: Origin): Promise<ResendOutcome> {
  const account = await deps.users.find(accountId);
  if (!account?.email) return 'no_email';
  if (account.emailVerified) return 'already_verified';
  const { verifyResendPerAccount, verifyResendPerNetwork } = defaults.rateLimits;
  const byNetwork = await deps.limits.allow(`verify-resend-net:${clientNetwork(origin.ip)}`, verifyResendPerNetwork);
  if (!(await deps.limits.allow(`verify-resend:${accountId}`, verifyResendPerAccount)) || !byNetwork) return 'rate_limited';
  return (await sendVerification(deps, account, interactionUid)) ? 'sent' : 'mail_failed';
}

/**
 * Follows a verification link: uses the token up and marks the email verified, but only
 * if the account still has the address the link was sent to and its past did not end
 * since the link was opened (one conditional update: an email change or a cut-off in
 * between voids it). Returns the token's record, or undefined for a bad, used, expired
 * or outlived link.
 */
export async function confirmEmail(deps: SelfServiceDeps, token: string): Promise<OneTimeTokenDoc | undefined> {
  const used = await deps.tokens.consume('verify_email', token);
  if (!used) return undefined;
  const { record, account } = used;
  const marked = await deps.accounts.model.updateOne(
    { _id: record.accountId, email: { $eq: record.email }, ...atVersion(versionOf(account)) }, { $set: { emailVerified: true } },
  );
  if (marked.matchedCount === 0) return undefined;
  await deps.events.record('user.email_verified', { accountId: record.accountId });
  return record;
}

/** Whether the account may use a client that requires a verified email. */
export async function hasVerifiedEmail(deps: Pick<SelfServiceDeps, 'accounts'>, accountId: string): Promise<boolean> {
  const account = await deps.accounts.model.findById(accountId, { email: 1, emailVerified: 1 }).lean();
  return !!account?.email && account.emailVerified;
}
