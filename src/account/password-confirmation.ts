import type { AccountRecord } from '../db/models/account.js';
import { checkCredentials, type CredentialCheckDeps } from '../security/credential-check.js';
import type { RequestOrigin } from '../security/events.js';

export type ConfirmationDeps = CredentialCheckDeps;

export type Confirmation = 'confirmed' | 'wrong' | 'locked' | 'busy';

/**
 * "Enter your password again" in the account center (before a destructive action, and the
 * current password of a password change): the login form's own check (checkCredentials),
 * with its throttle and hashing gate, so this form is no side door for guessing.
 */
export async function confirmPassword(
  deps: ConfirmationDeps, account: AccountRecord, password: string, origin: RequestOrigin & { ip: string },
): Promise<Confirmation> {
  const check = await checkCredentials(deps, account.username, password, origin);
  if (check.outcome === 'valid') return check.account._id === account._id ? 'confirmed' : 'wrong';
  return check.outcome === 'invalid' ? 'wrong' : check.outcome;
}
