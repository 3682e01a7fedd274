import Router from '@koa/router';
import Koa from 'koa';
import mount from 'koa-mount';

import { requireAdminToken } from './authenticate.js';
import { clientRoutes } from './clients.js';
import { clientScopeRoutes } from './client-scopes.js';
import { connectorRoutes } from './connectors.js';
import { initialAccessTokenRoutes } from './initial-access-tokens.js';
import { keyRoutes } from './keys.js';
import type { AdminDeps } from './deps.js';
import { AdminError, adminErrors, jsonBody } from './http.js';
import { openApiDocument } from './openapi.js';
import { resourceRoutes } from './resources.js';
import { roleRoutes } from './roles.js';
import { sessionRoutes } from './sessions.js';
import { userRoutes } from './users.js';

/** The admin API under /admin: JSON only, every answer (even a 404) from here, never the provider. */
export function adminApi(deps: AdminDeps): Koa.Middleware {
  const router = new Router();
  clientRoutes(router, deps);
  clientScopeRoutes(router, deps);
  resourceRoutes(router, deps);
  roleRoutes(router, deps);
  userRoutes(router, deps);
  sessionRoutes(router, deps);
  keyRoutes(router, deps);
  initialAccessTokenRoutes(router, deps);
  connectorRoutes(router, deps);

  const document = openApiDocument(deps.settings.issuer);
  const api = new Koa();
  api.use(adminErrors);
  api.use(async (ctx, next) => {
    if (ctx.path !== '/openapi.json' || ctx.method !== 'GET') return next();
    ctx.body = document;
  });
  api.use(requireAdminToken(deps.verifyAccessToken, deps.adminAudience));
  api.use(jsonBody);
  api.use(router.routes());
  api.use(router.allowedMethods({ throw: true }));
  api.use(() => {
    throw new AdminError(404, 'not_found', 'no such admin endpoint');
  });
  return mount('/admin', api);
}
