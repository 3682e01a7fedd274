import type { SecurityEventType } from '../db/models/security-event.js';
import type { SecurityEvents } from '../security/events.js';
import type { ProviderSource } from '../oidc/provider-host.js';
import { parsePayload, type ArtifactStore, type SessionPayload } from '../oidc/store.js';
import { signInSecond, type CutOffs } from './cutoff.js';

/** What ending a user's past needs; the admin API's deps (and later the account center's) fit. */
export interface RevocationDeps {
  /** The provider of the current key set (src/oidc/provider-host.ts). */
  providers: ProviderSource;
  store: ArtifactStore;
  events: SecurityEvents;
  cutOffs: CutOffs;
}

/** Why a user's past ends; each reason is recorded as its own security event. */
export type PastEnding = 'revoked' | 'disabled' | 'deleted' | 'password_changed' | 'mfa_reset';

const EVENT_OF: Record<PastEnding, SecurityEventType> = {
  revoked: 'user.revoked',
  disabled: 'user.disabled',
  deleted: 'user.deleted',
  password_changed: 'user.password_changed',
  mfa_reset: 'user.mfa_reset',
};

/** Who asked and from where, for the audit record. */
export interface RevocationOrigin {
  actor?: string;
  ip?: string;
  userAgent?: string;
}

export interface RevokeCounts {
  sessions_ended: number;
  sessions_updated: number;
  grants_revoked: number;
  artifacts_deleted: number;
  backchannel_logouts_sent: number;
  backchannel_logouts_failed: number;
}

/**
 * The one way to cut a user off from everything before now: revoking, disabling,
 * deleting a user and changing their password all come here.
 *
 * First the account's cut-off moves to now (one atomic update). From that moment every
 * session signed in at or before it reads as signed out, and every code, refresh token
 * and access token whose sign-in (or issue) predates it is refused (src/revocation/cutoff.ts),
 * including what a request already in flight saves afterwards. Then the stored state is
 * cleared (grants with their tokens and codes, sessions) and the apps are told over the
 * back channel; those steps tidy up and inform, the cut-off is what guarantees.
 */
export async function endUserPast(
  deps: RevocationDeps, accountId: string, reason: PastEnding, origin: RevocationOrigin = {}, keep: KeptSession = {},
): Promise<RevokeCounts> {
  await deps.cutOffs.raise(accountId);
  if (keep.sessionUid) await resignIn(deps, accountId, keep.sessionUid);
  return clearAndNotify(deps, accountId, undefined, EVENT_OF[reason], origin, keep.sessionUid);
}

/** A user changing their own password stays signed in on the device they did it from. */
export interface KeptSession {
  /** The uid of the browser session that survives the cut-off. */
  sessionUid?: string;
}

/**
 * The kept session is dated after the cut-off (as if signed in again now) and forgets its
 * apps, whose grants end with everything else. Written straight to the store: through
 * oidc-provider it would already read as signed out. A request of that session in flight
 * may still save the old sign-in time back; the session then ends too, never the reverse.
 */
async function resignIn(deps: RevocationDeps, accountId: string, sessionUid: string): Promise<void> {
  const sessions = deps.store.collection('Session');
  const doc = await sessions.findOne({ uid: sessionUid, accountId });
  const account = await deps.cutOffs.account(accountId);
  if (!doc || !account) return;
  const payload = { ...parsePayload<SessionPayload>(doc), loginTs: await signInSecond(account), authorizations: {} };
  await sessions.updateOne({ _id: doc._id, accountId }, { $set: { payload: JSON.stringify(payload) } });
}

/**
 * Signs a user out of one app only: that app's grants end and its entry is removed from
 * the user's sessions. No cut-off: the user stays signed in at the provider and elsewhere.
 */
export async function revokeUserFromClient(
  deps: RevocationDeps, accountId: string, clientId: string, origin: RevocationOrigin = {},
  event: Extract<SecurityEventType, 'user.revoked' | 'grant.removed_by_user'> = 'user.revoked',
): Promise<RevokeCounts> {
  return clearAndNotify(deps, accountId, clientId, event, origin);
}

async function clearAndNotify(
  deps: RevocationDeps, accountId: string, clientId: string | undefined, event: SecurityEventType, origin: RevocationOrigin,
  keptSessionUid?: string,
): Promise<RevokeCounts> {
  const { store } = deps;
  const sessions = (await liveSessions(deps, accountId)).filter((session) => session.uid !== keptSessionUid);
  const logouts = new Map<string, Set<string | undefined>>();
  const grantIds = new Set<string>();
  for (const session of sessions) {
    for (const [cid, auth] of Object.entries(session.authorizations ?? {})) {
      if (clientId && cid !== clientId) continue;
      if (!logouts.has(cid)) logouts.set(cid, new Set());
      logouts.get(cid)!.add(auth.sid);
      if (auth.grantId) grantIds.add(auth.grantId);
    }
  }
  const grantFilter = clientId ? { accountId, clientId } : { accountId };
  for (const doc of await store.collection('Grant').find(grantFilter, { projection: { clientId: 1 } }).toArray()) {
    grantIds.add(doc._id);
    if (doc.clientId && !logouts.has(doc.clientId)) logouts.set(doc.clientId, new Set([undefined]));
  }

  let artifacts = 0;
  for (const grantId of grantIds) artifacts += await store.revokeGrant(grantId);

  const counts: RevokeCounts = {
    sessions_ended: 0,
    sessions_updated: 0,
    grants_revoked: grantIds.size,
    artifacts_deleted: artifacts,
    backchannel_logouts_sent: 0,
    backchannel_logouts_failed: 0,
  };
  if (clientId) counts.sessions_updated = await forgetClient(deps, sessions, clientId);
  else {
    const filter = keptSessionUid ? { accountId, uid: { $ne: keptSessionUid } } : { accountId };
    counts.sessions_ended = (await store.collection('Session').deleteMany(filter)).deletedCount;
  }

  // After the revocation, so an app reacting to the logout token cannot refresh any more.
  const outcome = await notifyClients(deps, accountId, logouts);
  counts.backchannel_logouts_sent = outcome.sent;
  counts.backchannel_logouts_failed = outcome.failed;

  const { actor, ...where } = origin;
  await deps.events.record(event, { accountId, clientId, ...where, detail: { ...counts, actor } });
  return counts;
}

async function liveSessions(deps: RevocationDeps, accountId: string): Promise<SessionPayload[]> {
  const docs = await deps.store.collection('Session').find({ accountId }).toArray();
  const now = Date.now();
  return docs.filter((doc) => !doc.expiresAt || doc.expiresAt.getTime() > now).map((doc) => parsePayload<SessionPayload>(doc));
}

/**
 * One-app revocation keeps the user signed in at the provider (other apps keep working)
 * but removes that app's entry from each session, so its sid and grant are forgotten and
 * the next authorization request for it asks for consent again.
 */
async function forgetClient(deps: RevocationDeps, sessions: SessionPayload[], clientId: string): Promise<number> {
  let updated = 0;
  for (const payload of sessions) {
    if (!payload.authorizations?.[clientId]) continue;
    const session = await deps.providers.provider.Session.find(payload.jti);
    if (!session?.authorizations?.[clientId]) continue;
    delete session.authorizations[clientId];
    await session.persist();
    updated += 1;
  }
  return updated;
}

/** oidc-provider's Client has this method (lib/models/client.js); its typings omit it. */
interface LogoutCapable {
  backchannelLogoutUri?: string;
  backchannelLogout(sub: string, sid: string | undefined): Promise<void>;
}

/** Back-channel logout (OIDC Back-Channel Logout 1.0) through oidc-provider's own client model:
 * one logout token per session the app took part in, or one with only `sub` if none. */
async function notifyClients(deps: RevocationDeps, accountId: string, logouts: Map<string, Set<string | undefined>>) {
  const attempts: Promise<void>[] = [];
  for (const [cid, sids] of logouts) {
    const client = (await deps.providers.provider.Client.find(cid)) as LogoutCapable | undefined;
    if (!client?.backchannelLogoutUri) continue;
    const targets = sids.size > 1 ? [...sids].filter((sid) => sid !== undefined) : [...sids];
    for (const sid of targets) attempts.push(client.backchannelLogout(accountId, sid));
  }
  const results = await Promise.allSettled(attempts);
  for (const result of results) {
    if (result.status === 'rejected') {
      deps.events.logger.warn({ err: (result.reason as Error).message }, 'back-channel logout failed');
    }
  }
  const failed = results.filter((r) => r.status === 'rejected').length;
  return { sent: results.length - failed, failed };
}
