import type { AccountRecord } from '../db/models/account.js';
import { checkCredentials, type CredentialCheckDeps } from '../security/credential-check.js';
import type { RequestOrigin } from '../security/events.js';

export type ConfirmationDeps = CredentialCheckDeps;

export type Refusal = 'wrong' | 'locked' | 'busy';

export type Confirmation =
  /** `account`: as the check read it (its version decides whether a change still applies);
   * `at`: when the password was proven, dated by that read, never by the clock after the wait. */
  | { outcome: 'confirmed'; account: AccountRecord; at: Date }
  | { outcome: Refusal; retryAfterSeconds?: number };

/**
 * "Enter your password again" in the account center (before a sensitive action, and the
 * current password of a password change): the login form's own check (checkCredentials),
 * with its throttle and hashing gate, so this form is no side door for guessing.
 */
export async function confirmPassword(
  deps: ConfirmationDeps, account: AccountRecord, password: string, origin: RequestOrigin & { ip: string },
): Promise<Confirmation> {
  const check = await checkCredentials(deps, account.username, password, origin);
  if (check.outcome === 'valid') {
    return check.account._id === account._id
      ? { outcome: 'confirmed', account: check.account, at: new Date(check.signedInAt * 1000) }
      : { outcome: 'wrong' };
  }
  if (check.outcome === 'invalid') return { outcome: 'wrong' };
  return { outcome: check.outcome, retryAfterSeconds: check.retryAfterSeconds };
}
