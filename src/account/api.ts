import Router from '@koa/router';
import Koa from 'koa';
import mount from 'koa-mount';
import { z } from 'zod';

import { defaults } from '../../config/defaults.js';
import { requireBearer } from '../admin/authenticate.js';
import { AdminError, adminErrors, parse, reply } from '../admin/http.js';
import type { AccessTokenClaims } from '../oidc/access-tokens.js';
import { isLive } from '../oidc/introspection.js';
import { endSession, removeApp } from './actions.js';
import type { AccountCenterDeps } from './deps.js';
import { accountApiDocument } from './openapi.js';
import { connectedApps, signedInSessions } from './overview.js';

const pathId = z.string().min(1).max(128);
const iso = (date: Date | undefined) => date?.toISOString();

/**
 * The account API under /account/api: what the account center shows, for the signed-in
 * user's own apps to show in their UI. Authorized by a JWT access token for the account
 * resource with the `account` scope (first-party clients only, src/oidc/resources.ts),
 * live at the moment of the call: its grant exists and the user's cut-off came before it.
 */
export function accountApi(deps: AccountCenterDeps): Koa.Middleware {
  const router = new Router();

  router.get('/grants', async (ctx) => {
    const apps = await connectedApps(deps, userOf(ctx));
    reply(ctx, 200, {
      grants: apps.map((app) => ({
        id: app.grantId, client_id: app.clientId, client_name: app.name, client_uri: app.uri,
        scopes: app.scopes, apis: app.apis, created_at: iso(app.firstAuthorizedAt), last_used_at: iso(app.lastUsedAt),
      })),
    });
  });

  router.delete('/grants/:id', async (ctx) => {
    if (!(await removeApp(deps, userOf(ctx), parse(pathId, ctx.params.id), originOf(ctx)))) throw notFound('grant');
    ctx.status = 204;
  });

  router.get('/sessions', async (ctx) => {
    const account = await deps.users.find(userOf(ctx));
    const sessions = account ? await signedInSessions(deps, account) : [];
    reply(ctx, 200, {
      sessions: sessions.map((session) => ({
        id: session.id, device: session.device, ip: session.ip,
        signed_in_at: iso(session.signedInAt), last_active_at: iso(session.lastActiveAt), acr: session.acr, amr: session.amr,
      })),
    });
  });

  router.delete('/sessions/:id', async (ctx) => {
    if (!(await endSession(deps, userOf(ctx), parse(pathId, ctx.params.id), originOf(ctx)))) throw notFound('session');
    ctx.status = 204;
  });

  const document = accountApiDocument(deps.settings.issuer);
  const bearer = requireBearer({
    realm: 'account', audience: deps.accountAudience, scope: defaults.account.scope,
    accept: async (claims) => claims.sub !== undefined && isLive({ providers: deps.providers, accounts: deps.accounts.model }, claims),
  });
  const api = new Koa();
  api.use(adminErrors);
  api.use(async (ctx, next) => {
    if (ctx.path !== '/openapi.json' || ctx.method !== 'GET') return next();
    ctx.body = document;
  });
  api.use(bearer(deps.verifyAccessToken));
  api.use(router.routes());
  api.use(router.allowedMethods({ throw: true }));
  api.use(() => {
    throw new AdminError(404, 'not_found', 'no such account API endpoint');
  });
  return mount('/account/api', api);
}

function userOf(ctx: Koa.Context): string {
  return (ctx.state.accessToken as AccessTokenClaims).sub!;
}

function originOf(ctx: Koa.Context) {
  return { actor: (ctx.state.accessToken as AccessTokenClaims).client_id, ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined };
}

/** A stale id and another user's id get the same answer. */
function notFound(what: string): AdminError {
  return new AdminError(404, 'not_found', `no such ${what} for this user`);
}
