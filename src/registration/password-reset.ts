import { defaults } from '../../config/defaults.js';
import { normalizeUsername, type AccountRecord } from '../db/models/account.js';
import { MailUnavailableError } from '../mail/mailer.js';
import { versionOf } from '../revocation/cutoff.js';
import { endUserPast } from '../revocation/user-past.js';
import { clientNetwork } from '../security/client-network.js';
import { checkPassword } from '../security/password-policy.js';
import { linkTo, SELF_SERVICE_PATHS, type Origin, type SelfServiceDeps } from './deps.js';

const { resetPasswordTtl } = defaults.selfService;

export type ResetOutcome =
  | { ok: true; interactionUid?: string }
  | { ok: false; reason: 'invalid_link' }
  | { ok: false; reason: 'policy'; message: string };

/**
 * "Forgot password?": answers at once and the same way for every username or email, known
 * or not; the lookup and the mail run after the answer, so neither the page nor its timing
 * tells whether an account exists. The one visible refusal is the per-network limit, which
 * says nothing about accounts. Over the per-recipient limit no mail is sent, silently.
 * A mail that cannot be sent is logged and recorded (the page cannot say so without
 * revealing that the account exists).
 */
export async function requestPasswordReset(
  deps: SelfServiceDeps, identifier: string, origin: Origin, interactionUid?: string,
): Promise<'accepted' | 'rate_limited'> {
  if (!(await deps.limits.allow(`reset-net:${clientNetwork(origin.ip)}`, defaults.rateLimits.resetPerNetwork))) return 'rate_limited';
  sendResetLink(deps, identifier, origin, interactionUid).catch((err: unknown) => {
    deps.log(`password reset: request failed: ${(err as Error).message}`);
  });
  return 'accepted';
}

/** Only to a verified address: an address nobody proved to own must not take over the account. */
async function sendResetLink(deps: SelfServiceDeps, identifier: string, origin: Origin, interactionUid?: string): Promise<void> {
  // The link is dated before the account is read: a cut-off after this read voids it.
  const readAt = new Date();
  const account = await findAccountFor(deps, identifier);
  if (!account?.email || !account.emailVerified || account.disabled) return;
  if (!(await deps.limits.allow(`reset-account:${account._id}`, defaults.rateLimits.resetPerRecipient))) return;
  const token = await deps.tokens.issue(
    { purpose: 'reset_password', accountId: account._id, email: account.email, ...(interactionUid ? { interactionUid } : {}) },
    resetPasswordTtl, readAt,
  );
  await deps.events.record('user.password_reset_requested', { accountId: account._id, ip: origin.ip, userAgent: origin.userAgent });
  await mail(deps, account, 'reset-password', 'Reset your password', {
    link: linkTo(deps.settings, SELF_SERVICE_PATHS.resetPassword, token), expiresMinutes: resetPasswordTtl / 60,
  });
}

/**
 * The account a username or an email address names. The username is normalised as sign-in
 * does ("Alice" is alice), and it decides first: one account's username that happens to
 * be another account's email address names the first account, never the other's mailbox.
 */
async function findAccountFor(deps: SelfServiceDeps, identifier: string): Promise<AccountRecord | null> {
  const { model } = deps.accounts;
  const byName = await model.findOne({ username: { $eq: normalizeUsername(identifier) } }).lean();
  return byName ?? model.findOne({ email: { $eq: identifier.trim().toLowerCase() } }).lean();
}

/**
 * Sets a new password from a reset link. The policy is checked before the link is used
 * up (a refused password leaves it usable); then the token is consumed atomically and
 * the password stored, but only if the account's past did not end and its address did not
 * change since the link was opened (one conditional write: a revocation, another password
 * change or an email change in between wins). Only then the user's past ends through the same cut-off as an admin
 * revocation (a cut-off first would let the old password sign in between), and the
 * sign-in lockouts of the account are lifted: the owner proved themselves by mail.
 */
export async function resetPassword(deps: SelfServiceDeps, token: string, password: string, origin: Origin): Promise<ResetOutcome> {
  const pending = await deps.tokens.peek('reset_password', token);
  if (!pending) return { ok: false, reason: 'invalid_link' };
  const violation = await checkPassword(password, { username: pending.account.username, email: pending.account.email });
  if (violation) return { ok: false, reason: 'policy', message: violation.message };
  const used = await deps.tokens.consume('reset_password', token);
  if (!used) return { ok: false, reason: 'invalid_link' };
  const { account, record } = used;
  const expected = { version: versionOf(account), email: record.email };
  if (!(await deps.users.update(account._id, { password }, expected))) return { ok: false, reason: 'invalid_link' };

  await deps.tokens.revokeAll(account._id, 'reset_password');
  await endUserPast(deps, account._id, 'password_changed', { actor: 'password_reset', ...origin });
  await deps.throttle.forgetUser(account.username);
  await mail(deps, account, 'password-changed', 'Your password was changed', {
    changedAt: new Date().toUTCString(),
    resetUrl: `${deps.settings.issuer}${SELF_SERVICE_PATHS.forgotPassword}`,
  });
  return { ok: true, interactionUid: record.interactionUid };
}

/** Mail after the fact (the request already succeeded or must look alike): failures are
 * logged and recorded, never thrown. */
async function mail(
  deps: SelfServiceDeps, account: AccountRecord, template: 'reset-password' | 'password-changed', subject: string, data: Record<string, unknown>,
): Promise<void> {
  try {
    await deps.mailer.send({ to: account.email!, subject, template, data: { name: account.name, username: account.username, ...data } });
  } catch (err) {
    if (!(err instanceof MailUnavailableError)) throw err;
    await deps.events.record('mail.failed', { accountId: account._id, detail: { template } });
  }
}
