import { readFile } from 'node:fs/promises';
import path from 'node:path';
import Koa from 'koa';
import mount from 'koa-mount';
import type { Connection } from 'mongoose';
import Provider, { type ClientMetadata } from 'oidc-provider';

import type { KeyMaterial } from './config/keys.js';
import { viewsDir } from './config/paths.js';
import type { Settings } from './config/settings.js';
import { accountModel } from './db/models/account.js';
import { securityEventModel } from './db/models/security-event.js';
import { errorBoundary } from './http/errors.js';
import { healthRoutes, Readiness } from './http/health.js';
import { interactionRoutes } from './interactions/routes.js';
import { adminApi } from './admin/router.js';
import { accessTokenVerifier } from './oidc/access-tokens.js';
import { AccountAdmin, Accounts } from './oidc/accounts.js';
import { jwtIntrospection } from './oidc/introspection.js';
import { providerConfiguration } from './oidc/configuration.js';
import { auditRefreshFamilies } from './oidc/refresh-audit.js';
import { resourceCatalog } from './oidc/resources.js';
import { ALL_MODELS, ArtifactStore } from './oidc/store.js';
import { instrumentDatabase, instrumentProvider } from './observability/instrument.js';
import { silentLogger, type Logger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { nameRoute, requestObserver } from './observability/requests.js';
import { SecurityEvents } from './security/events.js';
import { LoginThrottle } from './security/login-throttle.js';

export interface ServerParts {
  app: Koa;
  provider: Provider;
  accounts: Accounts;
  store: ArtifactStore;
  events: SecurityEvents;
  metrics: Metrics;
  /** Turns /health/ready to 503 when shutdown begins. */
  readiness: Readiness;
}

export interface Observability {
  /** Request and security-event lines; silent unless given (tests, bench). */
  logger?: Logger;
}

/** Composes the provider, our pages and the admin API over one database connection. */
export async function createServer(
  settings: Settings, keys: KeyMaterial, connection: Connection, { logger = silentLogger }: Observability = {},
): Promise<ServerParts> {
  const metrics = new Metrics();
  instrumentDatabase(connection, metrics);
  const store = new ArtifactStore(connection);
  await store.ensureIndexes(ALL_MODELS);
  const model = accountModel(connection);
  await model.createIndexes();
  const accounts = new Accounts(model, settings.scryptN);
  const eventModel = securityEventModel(connection);
  await eventModel.createIndexes();
  const events = new SecurityEvents(eventModel, { logger, count: (type, detail) => metrics.securityEvent(type, detail) });
  const throttle = new LoginThrottle(connection);
  await throttle.ensureIndexes();
  const resources = resourceCatalog(settings);

  const provider = new Provider(settings.issuer, providerConfiguration({
    settings, keys, store, accounts, resources, events, staticClients: [adminClient(settings)],
  }));
  auditRefreshFamilies(provider, events);
  instrumentProvider(provider, metrics, logger);
  provider.proxy = settings.trustProxy;

  const app = new Koa();
  app.proxy = settings.trustProxy;
  // The mounted provider signs its cookies through this app's ctx.cookies.
  app.keys = keys.cookieKeys;
  const readiness = new Readiness();
  app.use(requestObserver({ logger, metrics, trustProxy: settings.trustProxy }));
  app.use(errorBoundary);
  app.use(healthRoutes(connection, readiness));
  app.use(stylesheet());
  app.use(interactionRoutes(provider, accounts, throttle, events, (outcome) => metrics.signIns.inc({ outcome })).routes());
  const verifyAccessToken = accessTokenVerifier(settings.issuer, keys);
  app.use(adminApi({
    settings, provider, store, events, verifyAccessToken,
    users: new AccountAdmin(accounts, settings.scryptN), adminAudience: resources.adminAudience,
  }));
  app.use(jwtIntrospection({ provider, accounts: accounts.model, verifyAccessToken }));
  app.use(mount(provider));
  return { app, provider, accounts, store, events, metrics, readiness };
}

/** The operator's client: client_credentials only. */
export function adminClient(settings: Settings): ClientMetadata {
  return {
    client_id: settings.admin.clientId,
    client_secret: settings.admin.clientSecret,
    client_name: 'Admin API client',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    // No `scope` metadata: `admin` is a scope of the admin API resource, granted to this
    // client alone by the resource catalog, not an OpenID scope any app could ask for.
  };
}

function stylesheet(): Koa.Middleware {
  const file = path.join(viewsDir, 'assets', 'style.css');
  let css: Promise<string> | undefined;
  return async (ctx, next) => {
    if (ctx.path !== '/assets/style.css' || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    nameRoute(ctx, ctx.path);
    css ??= readFile(file, 'utf8');
    ctx.type = 'text/css';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = await css;
  };
}
