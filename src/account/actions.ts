
import { duplicateField, type AccountRecord } from '../db/models/account.js';
import type { AccountAdmin } from '../oidc/accounts.js';
import { endSessionRecord, type ArtifactStore } from '../oidc/store.js';
import type { CutOffs } from '../revocation/cutoff.js';
import { endUserPast, revokeUserFromClient, type RevocationOrigin } from '../revocation/user-past.js';
import type { ProviderSource } from '../oidc/provider-host.js';
import type { SecurityEvents } from '../security/events.js';

/** What the user's own actions need; built once in src/account/index.ts. */
export interface ActionDeps {
  /** Mails the link that verifies the account's (new) email; false if the mail could not go out. */
  sendVerification(account: AccountRecord): Promise<boolean>;
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
 */
export async function changePassword(
  deps: ActionDeps, accountId: string, password: string, currentUid: string, origin: RevocationOrigin,
): Promise<void> {
  await deps.users.update(accountId, { password });
  await endUserPast(deps, accountId, 'password_changed', origin, { sessionUid: currentUid });
}

export type ProfileOutcome = 'saved' | 'unchanged' | 'email_taken';

/**
 * Name and email. A new email is unverified until the link mailed to it is followed (the
 * same mail as sign-up's); one already used by another account is refused, also when two
 * requests race for it (the unique index decides).
 */
export async function updateProfile(
  deps: ActionDeps, account: AccountRecord, changes: { name: string | null; email: string | null }, origin: RevocationOrigin,
): Promise<ProfileOutcome> {
  const update: { name?: string | null; email?: string | null } = {};
  if (changes.name !== (account.name ?? null)) update.name = changes.name;
  if (changes.email !== (account.email ?? null)) update.email = changes.email;
  if (Object.keys(update).length === 0) return 'unchanged';
  if (update.email) {
    const holder = await deps.users.findByEmail(update.email);
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
  if (after && update.email) await deps.sendVerification(after);
  return 'saved';
}

/** oidc-provider's Client has this method (lib/models/client.js); its typings omit it. */
interface LogoutCapable {
  backchannelLogoutUri?: string;
  backchannelLogout(sub: string, sid: string | undefined): Promise<void>;
}
