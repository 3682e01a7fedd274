import { defaults } from '../../config/defaults.js';
import { normalizeUsername, type AccountRecord } from '../db/models/account.js';
import type { Accounts } from '../oidc/accounts.js';
import { clientNetwork } from './client-network.js';
import type { RequestOrigin, SecurityEvents } from './events.js';
import { HashGateFull } from './hash-gate.js';
import type { LoginThrottle } from './login-throttle.js';

export interface CredentialCheckDeps {
  accounts: Accounts;
  throttle: LoginThrottle;
  events: SecurityEvents;
}

export type CredentialCheck =
  | { outcome: 'valid'; account: AccountRecord }
  | { outcome: 'invalid' }
  /** The throttle refused before any password was checked. */
  | { outcome: 'locked'; retryAfterSeconds: number }
  /** Password hashing is at capacity (the hash gate). */
  | { outcome: 'busy'; retryAfterSeconds: number };

/**
 * Every place a user types their password (the login form, the account center's
 * confirmation and password change) goes through here: a throttle slot reserved first,
 * then the gated password check, then the slot settled, and a lockout recorded as a
 * security event. So no form is a side door for guessing.
 */
export async function checkCredentials(
  deps: CredentialCheckDeps, login: string, password: string, origin: Required<Pick<RequestOrigin, 'ip'>> & RequestOrigin,
): Promise<CredentialCheck> {
  const network = clientNetwork(origin.ip);
  // Load shed first: nothing reserved, no account read, when the hashing gate is full.
  if (deps.accounts.passwordChecks.refuses(network)) return { outcome: 'busy', retryAfterSeconds: defaults.hashGate.retryAfterSeconds };
  const reservation = await deps.throttle.reserve(login, network);
  if (!reservation.allowed) return { outcome: 'locked', retryAfterSeconds: reservation.retryAfterSeconds };
  const { attempt } = reservation;
  let account: AccountRecord | undefined;
  try {
    account = await deps.accounts.authenticate(login, password, network);
  } catch (err) {
    await attempt.abandoned();
    if (!(err instanceof HashGateFull)) throw err;
    return { outcome: 'busy', retryAfterSeconds: defaults.hashGate.retryAfterSeconds };
  }
  if (account) {
    await attempt.succeeded();
    return { outcome: 'valid', account };
  }
  const lockouts = await attempt.failed();
  // The typed name, not an account id: it may not exist, and that must not show anywhere.
  for (const lockout of lockouts) {
    await deps.events.record('login.locked_out', {
      ip: origin.ip, userAgent: origin.userAgent,
      detail: { ...lockout, ...(lockout.scope === 'user' ? { username: login } : {}) },
    });
  }
  noteFailure(deps, login, lockouts.some((lockout) => lockout.scope === 'user'), origin);
  return { outcome: 'invalid' };
}

/**
 * A failed sign-in of an existing account goes into its owner's security activity
 * (`login.failed`). Not awaited: the extra lookup must not make the answer's timing say
 * whether the username exists.
 */
function noteFailure(deps: CredentialCheckDeps, login: string, lockedOut: boolean, origin: RequestOrigin): void {
  const note = async () => {
    const account = await deps.accounts.model.findOne({ username: { $eq: normalizeUsername(login) } }, { _id: 1 }).lean();
    if (!account) return;
    await deps.events.record('login.failed', { accountId: account._id, ip: origin.ip, userAgent: origin.userAgent, detail: { locked_out: lockedOut } });
  };
  note().catch((err: unknown) => deps.events.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'could not store login.failed'));
}
