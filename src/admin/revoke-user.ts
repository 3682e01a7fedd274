import type { AdminAudit, AdminDeps, GrantPayload, SessionPayload } from './deps.js';
import { parsePayload } from './deps.js';
import type { SecurityEventType } from '../db/models/security-event.js';

export interface RevokeOptions {
  /** Limit to one app: only its grants and its entry in the user's sessions end. */
  clientId?: string;
  /** The security event to record ('user.disabled' when disabling). */
  event?: SecurityEventType;
  /** Who asked (the admin client) and from where, for the audit record. */
  audit?: AdminAudit;
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
 * Signs a user out everywhere (or out of one app): refresh tokens, stored access tokens
 * and codes die with their grants; sessions end (or lose that app's authorization); JWT
 * access tokens issued before now stop passing introspection; every affected app with a
 * back-channel logout URI is told. Everything is in MongoDB, so it holds on every instance.
 */
export async function revokeUser(deps: AdminDeps, accountId: string, options: RevokeOptions = {}): Promise<RevokeCounts> {
  const { store, users } = deps;
  const { clientId } = options;
  // First, so a JWT minted while we work is already older than the cut-off.
  if (!clientId) await users.invalidateTokens(accountId, new Date());

  const sessions = await liveSessions(deps, accountId);
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
  else counts.sessions_ended = (await store.collection('Session').deleteMany({ accountId })).deletedCount;

  // After the revocation, so an app reacting to the logout token cannot refresh any more.
  const outcome = await notifyClients(deps, accountId, logouts);
  counts.backchannel_logouts_sent = outcome.sent;
  counts.backchannel_logouts_failed = outcome.failed;

  const { actor, ...origin } = options.audit ?? {};
  await deps.events.record(options.event ?? 'user.revoked', { accountId, clientId, ...origin, detail: { ...counts, actor } });
  return counts;
}

async function liveSessions(deps: AdminDeps, accountId: string): Promise<SessionPayload[]> {
  const docs = await deps.store.collection('Session').find({ accountId }).toArray();
  const now = Date.now();
  return docs.filter((doc) => !doc.expiresAt || doc.expiresAt.getTime() > now).map((doc) => parsePayload<SessionPayload>(doc));
}

/**
 * One-app revocation keeps the user signed in at the provider (other apps keep working)
 * but removes that app's entry from each session, so its sid and grant are forgotten and
 * the next authorization request for it asks for consent again.
 */
async function forgetClient(deps: AdminDeps, sessions: SessionPayload[], clientId: string): Promise<number> {
  let updated = 0;
  for (const payload of sessions) {
    if (!payload.authorizations?.[clientId]) continue;
    const session = await deps.provider.Session.find(payload.jti);
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
async function notifyClients(deps: AdminDeps, accountId: string, logouts: Map<string, Set<string | undefined>>) {
  const attempts: Promise<void>[] = [];
  for (const [cid, sids] of logouts) {
    const client = (await deps.provider.Client.find(cid)) as LogoutCapable | undefined;
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

/** The live grants of one account. */
export async function grantsOf(deps: AdminDeps, accountId: string): Promise<GrantPayload[]> {
  const docs = await deps.store.collection('Grant').find({ accountId }).toArray();
  const now = Date.now();
  return docs.filter((doc) => !doc.expiresAt || doc.expiresAt.getTime() > now).map((doc) => parsePayload<GrantPayload>(doc));
}
