import type { AccountRecord } from '../db/models/account.js';
import type { Accounts } from '../oidc/accounts.js';
import type { RequestOrigin, SecurityEvents } from '../security/events.js';
import type { LoginThrottle } from '../security/login-throttle.js';

export interface ConfirmationDeps {
  accounts: Accounts;
  throttle: LoginThrottle;
  events: SecurityEvents;
}

export type Confirmation = 'confirmed' | 'wrong' | 'locked';

/**
 * "Enter your password again" in the account center (before a destructive action, and the
 * current password of a password change): the login form's own path, the same password
 * check and the same per-username throttle, so this form is no side door for guessing.
 */
export async function confirmPassword(
  deps: ConfirmationDeps, account: AccountRecord, password: string, origin: RequestOrigin,
): Promise<Confirmation> {
  const { username } = account;
  if (await deps.throttle.isLocked(username)) return 'locked';
  const match = await deps.accounts.authenticate(username, password);
  if (match?._id === account._id) {
    await deps.throttle.reset(username);
    return 'confirmed';
  }
  const { lockedOut } = await deps.throttle.recordFailure(username);
  if (lockedOut) await deps.events.record('login.locked_out', { accountId: account._id, ...origin, detail: { username } });
  return lockedOut ? 'locked' : 'wrong';
}
