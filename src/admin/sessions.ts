import type Router from '@koa/router';

import type { AccountRecord } from '../db/models/account.js';
import type { AdminDeps, GrantPayload, SessionPayload } from './deps.js';
import { auditOf, parsePayload } from './deps.js';
import { notFound, parse, reply } from './http.js';
import { lastRefreshIssue } from '../oidc/grant-history.js';
import { predatesCutOff } from '../revocation/cutoff.js';
import { endUserPast, revokeUserFromClient } from '../revocation/user-past.js';
import { pathId, revokeRequest } from './schemas.js';

/** A user's sessions and grants, and the revocations that end them. */
export function sessionRoutes(router: Router, deps: AdminDeps): void {
  async function requireUser(id: string): Promise<AccountRecord> {
    const account = await deps.users.find(parse(pathId, id));
    if (!account) throw notFound('user');
    return account;
  }

  router.get('/users/:id/sessions', async (ctx) => {
    const account = await requireUser(ctx.params.id!);
    const now = Date.now();
    const docs = await deps.store.collection('Session').find({ accountId: account._id }).toArray();
    // A session signed in before the user's cut-off is signed out, even if a late save wrote it back.
    const sessions = docs
      .filter((doc) => !doc.expiresAt || doc.expiresAt.getTime() > now)
      .map((doc) => parsePayload<SessionPayload>(doc))
      .filter((session) => !predatesCutOff(account, session.loginTs))
      .map(sessionView);
    reply(ctx, 200, { sessions });
  });

  router.get('/users/:id/grants', async (ctx) => {
    const { _id: accountId } = await requireUser(ctx.params.id!);
    const grants = await grantsOf(deps, accountId);
    reply(ctx, 200, { grants: await Promise.all(grants.map((grant) => grantView(deps, grant))) });
  });

  router.post('/users/:id/revoke', async (ctx) => {
    const { _id: accountId } = await requireUser(ctx.params.id!);
    const { client_id: clientId } = parse(revokeRequest, ctx.request.body);
    const counts = clientId
      ? await revokeUserFromClient(deps, accountId, clientId, auditOf(ctx))
      : await endUserPast(deps, accountId, 'revoked', auditOf(ctx));
    reply(ctx, 200, counts);
  });

  router.delete('/grants/:grantId', async (ctx) => {
    const grantId = parse(pathId, ctx.params.grantId);
    const doc = await deps.store.collection('Grant').findOne({ _id: grantId });
    if (!doc) throw notFound('grant');
    const deleted = await deps.store.revokeGrant(grantId);
    const { actor, ...origin } = auditOf(ctx);
    await deps.events.record('grant.revoked', {
      grantId, accountId: doc.accountId, clientId: doc.clientId, ...origin, detail: { artifacts: deleted, actor },
    });
    reply(ctx, 200, { grant_id: grantId, artifacts_deleted: deleted });
  });
}

/** The live grants of one account. */
async function grantsOf(deps: AdminDeps, accountId: string): Promise<GrantPayload[]> {
  const docs = await deps.store.collection('Grant').find({ accountId }).toArray();
  const now = Date.now();
  return docs.filter((doc) => !doc.expiresAt || doc.expiresAt.getTime() > now).map((doc) => parsePayload<GrantPayload>(doc));
}

/** The session uid identifies a session; its id is the cookie value and is never shown. */
function sessionView(session: SessionPayload) {
  return {
    id: session.uid,
    login_at: epochToIso(session.loginTs),
    expires_at: epochToIso(session.exp),
    amr: session.amr ?? [],
    clients: Object.keys(session.authorizations ?? {}),
  };
}

async function grantView(deps: AdminDeps, grant: GrantPayload) {
  const scopes = new Set((grant.openid?.scope ?? '').split(' ').filter(Boolean));
  for (const scope of Object.values(grant.resources ?? {})) for (const s of scope.split(' ').filter(Boolean)) scopes.add(s);
  const lastRefresh = await lastRefreshIssue(deps.store, grant.jti);
  return {
    id: grant.jti,
    client_id: grant.clientId,
    scopes: [...scopes],
    resources: Object.keys(grant.resources ?? {}),
    created_at: epochToIso(grant.iat),
    expires_at: epochToIso(grant.exp),
    last_refresh_at: epochToIso(lastRefresh),
  };
}

function epochToIso(seconds: number | undefined): string | undefined {
  return seconds === undefined ? undefined : new Date(seconds * 1000).toISOString();
}
