import type { ClientMetadata, Configuration, KoaContextWithOIDC } from 'oidc-provider';

import { claimsByScope } from '../../config/claims.js';
import { defaults } from '../../config/defaults.js';
import type { KeyMaterial } from '../config/keys.js';
import type { Settings } from '../config/settings.js';
import type { SecurityEvents } from '../security/events.js';
import { guardedDatabaseCall } from '../db/unavailable.js';
import { renderPage } from '../http/render.js';
import type { Accounts } from './accounts.js';
import { adapterFactory } from './adapter-factory.js';
import { REFRESH_CLIENT_METADATA, refreshPolicyFor, refreshTokenTtl, validateRefreshMetadata } from './refresh-policy.js';
import type { ResourceCatalog } from './resources.js';
import type { ArtifactStore } from './store.js';

export interface ConfigurationDeps {
  settings: Settings;
  keys: KeyMaterial;
  store: ArtifactStore;
  accounts: Accounts;
  resources: ResourceCatalog;
  events: SecurityEvents;
  /** Statically configured clients (the admin client); everything else lives in MongoDB. */
  staticClients: ClientMetadata[];
}

/** Everything oidc-provider is told about our deployment, in one place. */
export function providerConfiguration(deps: ConfigurationDeps): Configuration {
  const { settings, keys, store, accounts, resources, events } = deps;
  const cookie = { signed: true, httpOnly: true, sameSite: 'lax' as const };

  return {
    adapter: adapterFactory(store, { settings, events }),
    clients: deps.staticClients,
    findAccount: (ctx, sub, token) => guardedDatabaseCall(async () => accounts.findAccount(ctx, sub, token)),
    jwks: keys.jwks as Configuration['jwks'],
    cookies: { keys: keys.cookieKeys, long: cookie, short: cookie },
    claims: { ...claimsByScope, offline_access: [] } as unknown as Configuration['claims'],
    scopes: ['openid', 'offline_access', ...Object.keys(claimsByScope).filter((s) => s !== 'openid')],
    responseTypes: ['code'],
    // oidc-provider blocks outbound requests to special-use addresses (SSRF protection);
    // apps on a private network or loopback need the operator's explicit opt-in.
    ...(settings.outboundPrivateNetworks ? { fetch: withoutSsrfGuard } : {}),
    // `gid` (the grant id) lets our introspection answer for a JWT from live state:
    // the token dies with its grant (src/oidc/introspection.ts).
    formats: {
      customizers: {
        jwt: (_ctx, token, jwt) => {
          if ('grantId' in token && token.grantId) jwt.payload.gid = token.grantId;
        },
      },
    },
    pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: settings.signingAlg,
    },
    extraClientMetadata: {
      properties: [...REFRESH_CLIENT_METADATA],
      validator: (_ctx, key, value) => validateRefreshMetadata(key, value),
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx, form) => renderPage(ctx, 'logout', {
          title: 'Sign out', clientName: ctx.oidc.client?.clientName, formHtml: form,
        }),
        postLogoutSuccessSource: (ctx) => renderPage(ctx, 'logged-out', {
          title: 'Signed out', clientName: ctx.oidc.client?.clientName,
        }),
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: resources.defaultResource,
        getResourceServerInfo: resources.getResourceServerInfo,
        // A resource named at /authorize carries over to /token without repeating it.
        useGrantedResource: () => true,
      },
      // The typings model each feature's options as a union the object literal cannot narrow.
    } as Configuration['features'],
    rotateRefreshToken: (ctx) => refreshPolicyFor(settings, ctx.oidc.client).rotate,
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? settings.ttl.accessToken,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? defaults.ttl.clientCredentials,
      AuthorizationCode: defaults.ttl.authorizationCode,
      IdToken: settings.ttl.idToken,
      Interaction: defaults.ttl.interaction,
      Session: settings.ttl.session,
      // A grant outliving its refresh-token family's absolute lifetime, never cutting it short.
      Grant: (ctx) => Math.max(settings.ttl.grant, refreshPolicyFor(settings, ctx?.oidc.client).absoluteTtl),
      RefreshToken: refreshTokenTtl(settings),
    },
    renderError: (ctx: KoaContextWithOIDC, out) => renderPage(ctx, 'error', {
      title: 'Something went wrong', error: out.error, errorDescription: out.error_description,
    }),
  };
}

/** oidc-provider's outbound fetch without its special-use-address dispatcher. */
function withoutSsrfGuard(url: string | URL | Request, options?: RequestInit): Promise<Response> {
  const { dispatcher: _guard, ...rest } = (options ?? {}) as RequestInit & { dispatcher?: unknown };
  return globalThis.fetch(url, rest);
}
