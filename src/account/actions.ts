import { defaults } from '../../config/defaults.js';
import { duplicateField, type AccountRecord } from '../db/models/account.js';
import type { AccountAdmin } from '../oidc/account-admin.js';
import { endSessionRecord, type ArtifactStore } from '../oidc/store.js';
import { versionOf, type CutOffs } from '../revocation/cutoff.js';
import { endUserPast, revokeUserFromClient, type RevocationOrigin } from '../revocation/user-past.js';
import type { ProviderSource } from '../oidc/provider-host.js';
import { clientNetwork } from '../security/client-network.js';
import type { SecurityEvents } from '../security/events.js';
import type { RateLimits } from '../security/rate-limit.js';

/** What the user's own actions need; built once in src/account/index.ts. */
export interface ActionDeps {
  /** After an email change: tells the old address (with a way back), ends its reset links and
   * mails the new one its confirmation link (src/registration/email-change.ts). */
  emailChanged(before: AccountRecord, after: AccountRecord): Promise<boolean>;
  limits: RateLimits;
  providers: ProviderSource;
  store: ArtifactStore;
  events: SecurityEvents;
  cutOffs: CutOffs;
  users: AccountAdmin;
}

/**
 * Removes one app's access: every grant the user gave that app ends with its tokens and
 * codes, the app leaves the user's sessions and is told over the back channel. The same
 * function as the admin's one-app revocation. False when the grant is not the user's (or
 * gone already): the caller answers 404 either way, so another user's ids reveal nothing.
 */
export async function removeApp(deps: ActionDeps, accountId: string, grantId: string, origin: RevocationOrigin): Promise<boolean> {
  const grants = deps.store.collection('Grant');
  const grant = await grants.findOne({ _id: grantId, accountId }, { projection: { clientId: 1 } });
  if (!grant?.clientId) return false;
  // Reserve first: of concurrent removals exactly one deletes the grant and goes on.
  if ((await grants.deleteOne({ _id: grantId, accountId })).deletedCount === 0) return false;
  await deps.store.revokeGrant(grantId);
  await revokeUserFromClient(deps, accountId, grant.clientId, origin, 'grant.removed_by_user');
  return true;
}

/**
 * Signs one browser session out: the session record goes and each app signed in through
 * it gets a back-channel logout token for that session (its `sid`). The apps' grants stay,
 * as with a sign-out at the provider. False for a session that is not the user's.
 */
export async function endSession(deps: ActionDeps, accountId: string, sessionUid: string, origin: RevocationOrigin): Promise<boolean> {
  const session = await endSessionRecord(deps.store, sessionUid, accountId);
  if (!session) return false;
  const notified = await Promise.allSettled(Object.entries(session.authorizations ?? {}).map(async ([clientId, auth]) => {
    const client = (await deps.providers.provider.Client.find(clientId)) as LogoutCapable | undefined;
    if (client?.backchannelLogoutUri) await client.backchannelLogout(accountId, auth.sid);
  }));
  const failed = notified.filter((result) => result.status === 'rejected').length;
  await deps.events.record('session.ended_by_user', { accountId, ...origin, detail: { session: sessionUid, backchannel_logouts_failed: failed } });
  return true;
}

/** Every session of the user but this one. */
export async function endOtherSessions(deps: ActionDeps, accountId: string, currentUid: string, origin: RevocationOrigin): Promise<number> {
  const others = await deps.store.collection('Session')
    .find({ accountId, uid: { $ne: currentUid } }, { projection: { uid: 1 } }).toArray();
  // One by one: each app gets the logout token of the session it was signed in through.
  let ended = 0;
  for (const doc of others) if (doc.uid && await endSession(deps, accountId, doc.uid, origin)) ended += 1;
  return ended;
}

/**
 * A new password, then the same cut-off as an administrator's password change: every
 * other session and every refresh token of the user ends; this session stays signed in.
 * `checked` is the account as the current password was checked against: if its past
 * ended since (a revocation, another password change), nothing is written (false).
 */
export async function changePassword(
  deps: ActionDeps, checked: AccountRecord, password: string, currentUid: string, origin: RevocationOrigin,
): Promise<boolean> {
  if (!(await deps.users.update(checked._id, { password }, { version: versionOf(checked) }))) return false;
  await endUserPast(deps, checked._id, 'password_changed', origin, { sessionUid: currentUid });
  return true;
}

export type ProfileOutcome = 'saved' | 'unchanged' | 'email_taken' | 'rate_limited';

/** Whether `changes` would change how the account is reached (and recovered): its email. */
export function changesEmail(account: AccountRecord, changes: { email: string | null }): boolean {
  return changes.email !== (account.email ?? null);
}

/**
 * Name and email. An email change (the caller has made sure the sign-in is recent) is
 * counted per account and per client network before anything is looked up: each one mails
 * two addresses and may answer that the address is taken, which would otherwise tell
 * registered addresses from free ones without limit. One already used by another account
 * is refused, also when two requests race for it (the unique index decides). The new
 * address is unverified until the link mailed to it is followed.
 */
export async function updateProfile(
  deps: ActionDeps, account: AccountRecord, changes: { name: string | null; email: string | null }, origin: RevocationOrigin,
): Promise<ProfileOutcome> {
  const update: { name?: string | null; email?: string | null } = {};
  if (changes.name !== (account.name ?? null)) update.name = changes.name;
  if (changesEmail(account, changes)) update.email = changes.email;
  if (Object.keys(update).length === 0) return 'unchanged';
  if (update.email !== undefined) {
    if (!(await allowEmailChange(deps, account._id, origin.ip))) return 'rate_limited';
    const holder = update.email && (await deps.users.findByEmail(update.email));
    if (holder && holder._id !== account._id) return 'email_taken';
  }
  let after: AccountRecord | undefined;
  try {
    after = await deps.users.update(account._id, update);
  } catch (err) {
    if (duplicateField(err) === 'email') return 'email_taken';
    throw err;
  }
  await deps.events.record('profile.changed', { accountId: account._id, ...origin, detail: { fields: Object.keys(update) } });
  if (after && update.email !== undefined) await deps.emailChanged(account, after);
  return 'saved';
}

/** Both counters count every attempt, so neither many accounts nor many networks get round them. */
async function allowEmailChange(deps: ActionDeps, accountId: string, ip: string | undefined): Promise<boolean> {
  const { emailChangePerNetwork, emailChangePerAccount } = defaults.rateLimits;
  const byNetwork = await deps.limits.allow(`email-change-net:${clientNetwork(ip ?? '')}`, emailChangePerNetwork);
  const byAccount = await deps.limits.allow(`email-change-account:${accountId}`, emailChangePerAccount);
  return byNetwork && byAccount;
}

/** oidc-provider's Client has this method (lib/models/client.js); its typings omit it. */
interface LogoutCapable {
  backchannelLogoutUri?: string;
  backchannelLogout(sub: string, sid: string | undefined): Promise<void>;
}
