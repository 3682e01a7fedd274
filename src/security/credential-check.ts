import { defaults } from '../../config/defaults.js';
import { normalizeUsername, type AccountRecord } from '../db/models/account.js';
import type { Accounts, PasswordCheck } from '../oidc/accounts.js';
import { clientNetwork } from './client-network.js';
import type { RequestOrigin, SecurityEvents } from './events.js';
import { HashGateFull } from './hash-gate.js';
import type { Lockout, LoginThrottle } from './login-throttle.js';

export interface CredentialCheckDeps {
  accounts: Accounts;
  throttle: LoginThrottle;
  events: SecurityEvents;
}

export type CredentialCheck =
  /** `signedInAt`: the epoch second the sign-in counts from, dated by what the check read. */
  | { outcome: 'valid'; account: AccountRecord; signedInAt: number }
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
  let check: PasswordCheck;
  try {
    check = await deps.accounts.authenticate(login, password, network);
  } catch (err) {
    await attempt.abandoned();
    if (!(err instanceof HashGateFull)) throw err;
    return { outcome: 'busy', retryAfterSeconds: defaults.hashGate.retryAfterSeconds };
  }
  if (check.outcome === 'valid') {
    await attempt.succeeded();
    return check;
  }
  if (check.outcome === 'changed') {
    // The password was right for the account as it was; it changed (or was cut off) while
    // checking. Refused, but not a guess: the slots go back.
    await attempt.abandoned();
    return { outcome: 'invalid' };
  }
  const lockouts = await attempt.failed();
  if (lockouts.length > 0) {
    // Rare, and the lookup costs the same whether the name exists or not.
    const holder = await accountIdNamed(deps, login);
    for (const lockout of lockouts) await recordLockout(deps, lockout, login, holder, origin);
  }
  noteFailure(deps, login, lockouts.some((lockout) => lockout.scope === 'user'), origin);
  return { outcome: 'invalid' };
}

/**
 * A lockout event never keeps the typed name: it may be a password typed into the wrong
 * field. A username's lockout keeps the account's id when the name is an account's, else
 * a keyed hash of the name (SecurityEvents.pseudonym); a network's lockout keeps neither.
 */
async function recordLockout(
  deps: CredentialCheckDeps, lockout: Lockout, login: string, holder: string | undefined, origin: RequestOrigin,
): Promise<void> {
  const user = lockout.scope === 'user';
  await deps.events.record('login.locked_out', {
    accountId: user ? holder : undefined, ip: origin.ip, userAgent: origin.userAgent,
    detail: { ...lockout, ...(user && !holder ? { login_pseudonym: deps.events.pseudonym(normalizeUsername(login)) } : {}) },
  });
}

async function accountIdNamed(deps: CredentialCheckDeps, login: string): Promise<string | undefined> {
  return (await deps.accounts.model.findOne({ username: { $eq: normalizeUsername(login) } }, { _id: 1 }).lean())?._id;
}

/**
 * A failed sign-in of an existing account goes into its owner's security activity
 * (`login.failed`). Not awaited: the extra lookup must not make the answer's timing say
 * whether the username exists.
 */
function noteFailure(deps: CredentialCheckDeps, login: string, lockedOut: boolean, origin: RequestOrigin): void {
  const note = async () => {
    const accountId = await accountIdNamed(deps, login);
    if (!accountId) return;
    await deps.events.record('login.failed', { accountId, ip: origin.ip, userAgent: origin.userAgent, detail: { locked_out: lockedOut } });
  };
  note().catch((err: unknown) => deps.events.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'could not store login.failed'));
}
