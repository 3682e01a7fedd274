import type Router from '@koa/router';

import type { AdminDeps, GrantPayload, SessionPayload } from './deps.js';
import { auditOf, parsePayload } from './deps.js';
import { notFound, parse, reply } from './http.js';
import { grantsOf, revokeUser } from './revoke-user.js';
import { pathId, revokeRequest } from './schemas.js';

/** A user's sessions and grants, and the revocations that end them. */
export function sessionRoutes(router: Router, deps: AdminDeps): void {
  async function requireUser(id: string): Promise<string> {
    const account = await deps.users.find(parse(pathId, id));
    if (!account) throw notFound('user');
    return account._id;
  }

  router.get('/users/:id/sessions', async (ctx) => {
    const accountId = await requireUser(ctx.params.id!);
    const now = Date.now();
    const docs = await deps.store.collection('Session').find({ accountId }).toArray();
    const sessions = docs
      .filter((doc) => !doc.expiresAt || doc.expiresAt.getTime() > now)
      .map((doc) => sessionView(parsePayload<SessionPayload>(doc)));
    reply(ctx, 200, { sessions });
  });

  router.get('/users/:id/grants', async (ctx) => {
    const accountId = await requireUser(ctx.params.id!);
    const grants = await grantsOf(deps, accountId);
    reply(ctx, 200, { grants: await Promise.all(grants.map((grant) => grantView(deps, grant))) });
  });

  router.post('/users/:id/revoke', async (ctx) => {
    const accountId = await requireUser(ctx.params.id!);
    const { client_id: clientId } = parse(revokeRequest, ctx.request.body);
    reply(ctx, 200, await revokeUser(deps, accountId, { clientId, audit: auditOf(ctx) }));
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
  // A rotated refresh token (rotations > 0) was issued by a refresh; the newest one dates the last refresh.
  const tokens = await deps.store.collection('RefreshToken')
    .find({ grantId: grant.jti, rotations: { $gt: 0 } }, { projection: { payload: 1 } }).toArray();
  const lastIssue = Math.max(0, ...tokens.map((doc) => parsePayload<{ iat?: number }>(doc).iat ?? 0));
  return {
    id: grant.jti,
    client_id: grant.clientId,
    scopes: [...scopes],
    resources: Object.keys(grant.resources ?? {}),
    created_at: epochToIso(grant.iat),
    expires_at: epochToIso(grant.exp),
    last_refresh_at: lastIssue > 0 ? epochToIso(lastIssue) : undefined,
  };
}

function epochToIso(seconds: number | undefined): string | undefined {
  return seconds === undefined ? undefined : new Date(seconds * 1000).toISOString();
}
