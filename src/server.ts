import path from 'node:path';
import Koa from 'koa';
import type { Connection } from 'mongoose';
import Provider, { type ClientMetadata } from 'oidc-provider';
import fetchRequest from 'oidc-provider/lib/helpers/fetch_request.js';

import { defaults } from '../config/defaults.js';
import type { KeyMaterial, KeySources } from './config/keys.js';
import type { Settings } from './config/settings.js';
import { runMigrations } from './db/migrations.js';
import { accountModel, ensureUniqueEmails, lowercaseLegacyEmails } from './db/models/account.js';
import { keySetCollection } from './db/models/key-set.js';
import { dropUnusedEventIndexes, ensureEventRetention, securityEventModel } from './db/models/security-event.js';
import { assets } from './http/assets.js';
import { errorBoundary } from './http/errors.js';
import { healthRoutes, Readiness } from './http/health.js';
import { requestMemo } from './http/request-memo.js';
import { requestDeadline } from './db/deadline.js';
import { EmailGate } from './interactions/email-gate.js';
import { interactionRoutes } from './interactions/routes.js';
import { loginLinks, signUpRoutes } from './interactions/signup.js';
import { Mailer } from './mail/mailer.js';
import type { SelfServiceDeps } from './registration/deps.js';
import { emailChanged } from './registration/email-change.js';
import { OneTimeTokens } from './registration/one-time-tokens.js';
import { selfServicePages } from './registration/pages.js';
import { RateLimits } from './security/rate-limit.js';
import { adminApi } from './admin/router.js';
import { accountCenter, DeviceTracking } from './account/index.js';
import { Devices } from './account/devices.js';
import { accountCenterClient } from './account/first-party.js';
import { ApiAccess } from './apis/access.js';
import { connectorFeature } from './connectors/index.js';
import { checkSecondStep } from './mfa/second-step-check.js';
import { ApiCatalog } from './apis/catalog.js';
import { registerConfiguredApi } from './apis/configured-api.js';
import { describeApi } from './apis/describe.js';
import { apiCollections, ensureApiIndexes } from './apis/records.js';
import { KeyRing } from './keys/key-ring.js';
import { KeySealer } from './keys/sealing.js';
import { twoStepSignIn, twoStepVerification } from './mfa/index.js';
import { keyTiming } from './keys/timing.js';
import { accessTokenVerifier } from './oidc/access-tokens.js';
import { adapterFactory } from './oidc/adapter-factory.js';
import { amendProviderAnswers } from './oidc/amendments.js';
import { deliveredAnswers } from './oidc/delivery.js';
import { AccountAdmin } from './oidc/account-admin.js';
import { Accounts } from './oidc/accounts.js';
import { jwtIntrospection } from './oidc/introspection.js';
import { jwksCaching } from './oidc/jwks-caching.js';
import { ProviderHost } from './oidc/provider-host.js';
import { providerConfiguration } from './oidc/configuration.js';
import { auditRefreshFamilies } from './oidc/refresh-audit.js';
import { resourceCatalog } from './oidc/resources.js';
import { revocationResponses } from './oidc/revocation.js';
import { exceptProviderPaths } from './oidc/routes.js';
import { dropUnusedArtifactIndexes } from './oidc/artifact-indexes.js';
import { ALL_MODELS, ArtifactStore } from './oidc/store.js';
import { CutOffs } from './revocation/cutoff.js';
import { auditRegistrations, protocolFeatures, userCodeThrottle } from './protocols/index.js';
import { instrumentDatabase, instrumentProvider } from './observability/instrument.js';
import { silentLogger, type Logger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { requestObserver } from './observability/requests.js';
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
  mailer: Mailer;
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
  settings: Settings, keySources: KeySources, connection: Connection, { logger = silentLogger }: Observability = {},
): Promise<ServerParts> {
  const metrics = new Metrics();
  instrumentDatabase(connection, metrics);
  const warn = (line: string) => logger.warn(line);
  const store = new ArtifactStore(connection);
  await store.ensureIndexes(ALL_MODELS);
  const model = accountModel(connection);
  await model.createIndexes();
  const accounts = new Accounts(model, settings.password);
  const cutOffs = new CutOffs(model);
  const eventModel = securityEventModel(connection);
  await eventModel.createIndexes();
  await ensureEventRetention(eventModel, settings.events.retentionDays, warn);
  const events = new SecurityEvents(eventModel, {
    logger, count: (type, detail) => metrics.securityEvent(type, detail), secret: keySources.encryptionKey,
  });
  const throttle = new LoginThrottle(connection, settings.loginThrottle);
  await throttle.ensureIndexes();
  // Once per database, before any instance serves (src/db/migrations.ts).
  await runMigrations(connection, [
    { name: 'accounts.lowercase-emails', run: () => lowercaseLegacyEmails(model, warn) },
    { name: 'oidc.drop-unused-indexes', run: () => dropUnusedArtifactIndexes(store, ALL_MODELS, warn) },
    { name: 'events.drop-unused-indexes', run: () => dropUnusedEventIndexes(eventModel, warn) },
  ], { log: (line) => logger.info(line) });
  await ensureUniqueEmails(model, warn);
  const tokens = new OneTimeTokens(connection, model);
  await tokens.ensureIndexes();
  const limits = new RateLimits(connection);
  await limits.ensureIndexes();
  const mailer = new Mailer({
    smtpUrl: settings.mail.smtpUrl, from: settings.mail.from,
    outboxDir: path.join(settings.dataDir, 'outbox'), log: (line) => logger.info(line),
  });
  const apiCatalog = new ApiCatalog(apiCollections(connection), defaults.apis.refreshMs);
  await ensureApiIndexes(apiCatalog.collections);
  await registerConfiguredApi(apiCatalog, store, settings.apiAudience);
  const resources = resourceCatalog(settings, new ApiAccess(apiCatalog));
  const describeApis = (indicator: string, scopes: readonly string[]) => describeApi(apiCatalog, indicator, scopes);
  const devices = new Devices(connection, settings.ttl.session);
  await devices.ensureIndexes();
  const deviceTracking = new DeviceTracking(devices, events);
  const accountCenterApp = accountCenterClient(settings);

  const sealer = new KeySealer(keySources.encryptionKey);
  const connectors = await connectorFeature({
    settings, connection, sealer, accounts, events, throttle,
    // Called only once requests flow, by when `providers` below exists.
    outboundFetch: (url, options) => fetchRequest(providers.provider, url, options),
    secondFactor: {
      has: (accountId) => twoStep.factors.hasFactor(accountId),
      check: (account, input, origin) => checkSecondStep({ factors: twoStep.factors, throttle, limits, events }, account, input, origin),
    },
  });
  const keyRing = await KeyRing.open({
    collection: keySetCollection(connection), sealer, timing: keyTiming(settings), events, warn: (message) => logger.warn(message),
  }, keySources);
  const adapter = adapterFactory(store, { settings, events, cutOffs });
  const providers = new ProviderHost((keys: KeyMaterial) => {
    const provider = new Provider(settings.issuer, providerConfiguration({
      settings, keys, adapter, accounts, resources, staticClients: [adminClient(settings), accountCenterApp],
      protocols: protocolFeatures(settings, keys, store), signIn: twoStepSignIn(settings), idTokenClaims: connectors.idTokenClaims,
    }));
    auditRefreshFamilies(provider, events);
    auditRegistrations(provider, events);
    instrumentProvider(provider, metrics, logger);
    deviceTracking.attach(provider);
    provider.proxy = settings.trustProxy;
    return provider;
  }, keyRing.material);

  const app = new Koa();
  app.proxy = settings.trustProxy;
  // Behind one trusted proxy, only the address it appended counts: entries to its left came
  // from the client and are spoofable (the sign-in throttle counts by ctx.ip).
  app.maxIpsCount = 1;
  // The mounted provider signs its cookies through this app's ctx.cookies.
  app.keys = keyRing.material.cookieKeys;
  keyRing.onChange((keys) => {
    providers.install(keys);
    app.keys = keys.cookieKeys;
  });
  keyRing.start();
  const twoStep = await twoStepVerification({ settings, connection, sealer, accounts: model, providers, throttle, limits, events, mailer });

  const readiness = new Readiness();
  app.use(requestObserver({ logger, metrics, trustProxy: settings.trustProxy }));
  app.use(requestMemo());
  app.use(requestDeadline());
  app.use(errorBoundary);
  const users = new AccountAdmin(accounts);
  const selfService: SelfServiceDeps = {
    settings, providers, store, events, cutOffs, accounts, users, tokens, limits, throttle, mailer, log: (line) => logger.warn(line),
  };
  const emailGate = new EmailGate(providers, selfService);
  const verifyAccessToken = accessTokenVerifier(settings.issuer, keyRing);
  app.use(exceptProviderPaths([
    healthRoutes(connection, readiness),
    assets(),
    signUpRoutes(providers, selfService).routes(),
    emailGate.routes().routes(),
    selfServicePages(providers, selfService).routes(),
    connectors.routes(providers).routes(),
    interactionRoutes(providers, accounts, throttle, events, {
      loginLinks: (uid) => loginLinks(selfService, uid),
      beforeConsent: (ctx, details) => emailGate.beforeConsent(ctx, details),
      describeApi: describeApis,
      loginOptions: (uid) => connectors.loginOptions(uid),
      observeSignIn: (outcome) => metrics.signIns.inc({ outcome }),
      beforeLogin: (ctx, details) => twoStep.secondStep.beforeLogin(ctx, details),
      afterPassword: (ctx, details, account) => twoStep.secondStep.afterPassword(ctx, details, account),
      passkeyLogin: (uid) => twoStep.secondStep.passkeyLogin(uid),
    }).routes(),
    twoStep.secondStep.routes().routes(),
    adminApi({
      settings, providers, keyRing, store, events, cutOffs, verifyAccessToken, users, adminAudience: resources.adminAudience,
      apiCatalog, builtInAudiences: resources.builtInAudiences, twoStep,
      connectors: connectors.catalog, identities: connectors.identities,
      emailChanged: (before, after) => emailChanged(selfService, { before, after }, false),
    }),
    accountCenter({
      settings, providers, keyRing, store, events, cutOffs, users, accounts, throttle, devices, verifyAccessToken, limits, twoStep,
      accountAudience: resources.accountAudience, describeApi: describeApis, identities: connectors.identities,
      emailChanged: (before, after) => emailChanged(selfService, { before, after }, true),
    }),
  ]));
  app.use(userCodeThrottle(limits));
  app.use(amendProviderAnswers([
    // First: a token answer that can no longer leave in time becomes a 503 before the rest look at it.
    deliveredAnswers(logger),
    deviceTracking.amendment,
    jwksCaching(settings.keys.jwksMaxAge),
    revocationResponses({ store, events, verifyAccessToken }),
    jwtIntrospection({ providers, accounts: accounts.model, verifyAccessToken }),
  ]));
  app.use(providers.middleware);
  return { app, providers, keyRing, accounts, store, events, mailer, metrics, readiness };
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
