import { readFile } from 'node:fs/promises';
import path from 'node:path';
import Koa from 'koa';
import type { Connection } from 'mongoose';
import Provider, { type ClientMetadata } from 'oidc-provider';

import type { KeyMaterial, KeySources } from './config/keys.js';
import { viewsDir } from './config/paths.js';
import type { Settings } from './config/settings.js';
import { accountModel } from './db/models/account.js';
import { keySetCollection } from './db/models/key-set.js';
import { securityEventModel } from './db/models/security-event.js';
import { cookieSigner } from './http/cookie-signer.js';
import { errorBoundary } from './http/errors.js';
import { healthRoutes } from './http/health.js';
import { requestMemo } from './http/request-memo.js';
import { interactionRoutes } from './interactions/routes.js';
import { adminApi } from './admin/router.js';
import { KeyRing } from './keys/key-ring.js';
import { KeySealer } from './keys/sealing.js';
import { keyTiming } from './keys/timing.js';
import { accessTokenVerifier } from './oidc/access-tokens.js';
import { adapterFactory } from './oidc/adapter-factory.js';
import { AccountAdmin, Accounts } from './oidc/accounts.js';
import { jwtIntrospection } from './oidc/introspection.js';
import { jwksCaching } from './oidc/jwks-caching.js';
import { ProviderHost } from './oidc/provider-host.js';
import { providerConfiguration } from './oidc/configuration.js';
import { auditRefreshFamilies } from './oidc/refresh-audit.js';
import { resourceCatalog } from './oidc/resources.js';
import { revocationResponses } from './oidc/revocation.js';
import { ALL_MODELS, ArtifactStore } from './oidc/store.js';
import { CutOffs } from './revocation/cutoff.js';
import { SecurityEvents } from './security/events.js';
import { LoginThrottle } from './security/login-throttle.js';

export interface ServerParts {
  app: Koa;
  /** The provider for the current key set (replaced when keys change). */
  providers: ProviderHost;
  keyRing: KeyRing;
  accounts: Accounts;
  store: ArtifactStore;
  events: SecurityEvents;
}

/** Composes the provider, our pages and the admin API over one database connection. */
export async function createServer(settings: Settings, keySources: KeySources, connection: Connection): Promise<ServerParts> {
  const store = new ArtifactStore(connection);
  await store.ensureIndexes(ALL_MODELS);
  const model = accountModel(connection);
  await model.createIndexes();
  const accounts = new Accounts(model, settings.password);
  const cutOffs = new CutOffs(model);
  const eventModel = securityEventModel(connection);
  await eventModel.createIndexes();
  const events = new SecurityEvents(eventModel);
  const throttle = new LoginThrottle(connection, settings.loginThrottle);
  await throttle.ensureIndexes();
  const resources = resourceCatalog(settings);

  const keyRing = await KeyRing.open({
    collection: keySetCollection(connection), sealer: new KeySealer(keySources.encryptionKey), timing: keyTiming(settings), events,
  }, keySources);
  const adapter = adapterFactory(store, { settings, events, cutOffs });
  const providers = new ProviderHost((keys: KeyMaterial) => {
    const provider = new Provider(settings.issuer, providerConfiguration({
      settings, keys, adapter, accounts, resources, staticClients: [adminClient(settings)],
    }));
    auditRefreshFamilies(provider, events);
    provider.proxy = settings.trustProxy;
    return provider;
  }, keyRing.material);

  const app = new Koa();
  app.proxy = settings.trustProxy;
  // Behind one trusted proxy, only the address it appended counts: entries to its left came
  // from the client and are spoofable (the sign-in throttle counts by ctx.ip).
  app.maxIpsCount = 1;
  // The mounted provider signs its cookies through this app's ctx.cookies.
  app.keys = cookieSigner(keyRing.material.cookieKeys);
  keyRing.onChange((keys) => {
    providers.install(keys);
    app.keys = cookieSigner(keys.cookieKeys);
  });
  keyRing.start();

  app.use(requestMemo());
  app.use(errorBoundary);
  app.use(healthRoutes(connection));
  app.use(stylesheet());
  app.use(interactionRoutes(providers, accounts, throttle, events).routes());
  const verifyAccessToken = accessTokenVerifier(settings.issuer, keyRing);
  app.use(adminApi({
    settings, providers, keyRing, store, events, cutOffs, verifyAccessToken,
    users: new AccountAdmin(accounts), adminAudience: resources.adminAudience,
  }));
  app.use(jwtIntrospection({ providers, accounts: accounts.model, verifyAccessToken }));
  app.use(revocationResponses({ store, events, verifyAccessToken }));
  app.use(jwksCaching(settings.keys.jwksMaxAge));
  app.use(providers.middleware);
  return { app, providers, keyRing, accounts, store, events };
}

/** The operator's client: client_credentials only. */
function adminClient(settings: Settings): ClientMetadata {
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
    css ??= readFile(file, 'utf8');
    ctx.type = 'text/css';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = await css;
  };
}
