import { defaults } from '../../config/defaults.js';
import type { AccountRecord } from '../db/models/account.js';
import { MailUnavailableError } from '../mail/mailer.js';
import { endUserPast } from '../revocation/user-past.js';
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
 * tells whether an account exists. The one visible refusal is the per-IP limit, which
 * says nothing about accounts. Over the per-recipient limit no mail is sent, silently.
 * A mail that cannot be sent is logged and recorded (the page cannot say so without
 * revealing that the account exists).
 */
export async function requestPasswordReset(
  deps: SelfServiceDeps, identifier: string, origin: Origin, interactionUid?: string,
): Promise<'accepted' | 'rate_limited'> {
  if (!(await deps.limits.allow(`reset-ip:${origin.ip}`, defaults.rateLimits.resetPerIp))) return 'rate_limited';
  sendResetLink(deps, identifier, origin, interactionUid).catch((err: unknown) => {
    deps.log(`password reset: request failed: ${(err as Error).message}`);
  });
  return 'accepted';
}

async function sendResetLink(deps: SelfServiceDeps, identifier: string, origin: Origin, interactionUid?: string): Promise<void> {
  const account = await findByUsernameOrEmail(deps, identifier);
  if (!account?.email || account.disabled) return;
  if (!(await deps.limits.allow(`reset-account:${account._id}`, defaults.rateLimits.resetPerRecipient))) return;
  const token = await deps.tokens.issue(
    { purpose: 'reset_password', accountId: account._id, ...(interactionUid ? { interactionUid } : {}) }, resetPasswordTtl,
  );
  await deps.events.record('user.password_reset_requested', { accountId: account._id, ip: origin.ip, userAgent: origin.userAgent });
  await mail(deps, account, 'reset-password', 'Reset your password', {
    link: linkTo(deps.settings, SELF_SERVICE_PATHS.resetPassword, token), expiresMinutes: resetPasswordTtl / 60,
  });
}

function findByUsernameOrEmail(deps: SelfServiceDeps, identifier: string): Promise<AccountRecord | null> {
  return deps.accounts.model.findOne({ $or: [{ username: { $eq: identifier } }, { email: { $eq: identifier.toLowerCase() } }] }).lean();
}

/**
 * Sets a new password from a reset link. The policy is checked before the link is used
 * up (a refused password leaves it usable); then the token is consumed atomically, the
 * password stored, and only then the user's past ends through the same cut-off as an
 * admin revocation (a cut-off first would let the old password sign in between).
 */
export async function resetPassword(deps: SelfServiceDeps, token: string, password: string, origin: Origin): Promise<ResetOutcome> {
  const pending = await deps.tokens.peek('reset_password', token);
  const account = pending && (await deps.users.find(pending.accountId));
  if (!pending || !account || account.disabled) return { ok: false, reason: 'invalid_link' };
  const violation = await checkPassword(password, { username: account.username, email: account.email });
  if (violation) return { ok: false, reason: 'policy', message: violation.message };
  if (!(await deps.tokens.consume('reset_password', token))) return { ok: false, reason: 'invalid_link' };

  await deps.users.update(account._id, { password });
  await deps.tokens.revokeAll(account._id, 'reset_password');
  await endUserPast(deps, account._id, 'password_changed', { actor: 'password_reset', ...origin });
  await mail(deps, account, 'password-changed', 'Your password was changed', {
    changedAt: new Date().toUTCString(),
    resetUrl: `${deps.settings.issuer}${SELF_SERVICE_PATHS.forgotPassword}`,
  });
  return { ok: true, interactionUid: pending.interactionUid };
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
