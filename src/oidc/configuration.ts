import type { Account, Adapter, ClientMetadata, Configuration, interactionPolicy, KoaContextWithOIDC } from 'oidc-provider';

import { claimsByScope, OIDC_SCOPES } from '../../config/claims.js';
import { defaults } from '../../config/defaults.js';
import type { KeyMaterial } from '../config/keys.js';
import type { Settings } from '../config/settings.js';
import { guardedDatabaseCall } from '../db/unavailable.js';
import { renderPage } from '../http/render.js';
import { loadExistingGrant } from '../account/first-party.js';
import type { Accounts } from './accounts.js';
import { REFRESH_CLIENT_METADATA, refreshPolicyFor, refreshTokenTtl, validateRefreshMetadata } from './refresh-policy.js';
import type { ResourceCatalog } from './resources.js';
import { RESOURCE_SERVER_AUDIENCES, validateClientRules } from './client-rules.js';
import { mayCallFromBrowser, mayIntrospect, mayRevoke } from './token-access.js';
import type { ArtifactStore } from './store.js';
import { PROVIDER_ROUTES } from './routes.js';
import { interactionPolicyFor, REQUIRE_VERIFIED_EMAIL, validateRequireVerifiedEmail } from '../registration/verified-email-policy.js';

export type IdTokenClaims = (accountId: string, token: { amr?: string[]; authTime?: number } | undefined) => Promise<Record<string, unknown>>;

export interface ConfigurationDeps {
  settings: Settings;
  keys: KeyMaterial;
  /** Built once per server (src/oidc/adapter-factory.ts) and shared by every provider instance. */
  adapter: (name: string) => Adapter;
  accounts: Accounts;
  resources: ResourceCatalog;
  /** Statically configured clients (the admin client); everything else lives in MongoDB. */
  staticClients: ClientMetadata[];
  /** Claims a feature adds to the ID token of a sign-in (the connectors' `idp`). */
  idTokenClaims?: IdTokenClaims;
  /** Protocol features composed elsewhere (src/protocols/): DPoP, PAR, device flow, registration. */
  protocols: NonNullable<Configuration['features']>;
  /** How sign-ins are told apart (two-step verification, src/mfa/): acr values, the login
   * prompt's extra checks, and client metadata with its validator. */
  signIn: {
    acrValues: readonly string[];
    loginChecks: interactionPolicy.Check[];
    clientMetadata: { property: string; validate(value: unknown): void };
  };
}

/** Everything oidc-provider is told about our deployment, in one place. */
export function providerConfiguration(deps: ConfigurationDeps): Configuration {
  const { settings, keys, accounts, resources } = deps;
  const cookie = { signed: true, httpOnly: true, sameSite: 'lax' as const };

  return {
    adapter: deps.adapter,
    clients: deps.staticClients,
    findAccount: (ctx, sub, token) => guardedDatabaseCall(async () => withIdTokenClaims(await accounts.findAccount(ctx, sub, token), token, deps.idTokenClaims)),
    loadExistingGrant: loadExistingGrant(settings),
    jwks: keys.jwks as Configuration['jwks'],
    cookies: { keys: keys.cookieKeys, long: cookie, short: cookie },
    // Every ID token says how the user signed in, `acr` and `amr` (src/mfa/acr.ts).
    claims: { ...claimsByScope, openid: [...claimsByScope.openid, 'acr', 'amr'], offline_access: [], acr: null, amr: null } as unknown as Configuration['claims'],
    acrValues: [...deps.signIn.acrValues],
    scopes: [...OIDC_SCOPES],
    // The claims of the granted scopes go into the ID token too, not only to userinfo (OIDC
    // Core's default): libraries that read the profile from the ID token (express-openid-connect's
    // req.oidc.user, Auth0- and Keycloak-style apps) then see it without a userinfo call.
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    routes: PROVIDER_ROUTES,
    // oidc-provider blocks outbound requests to special-use addresses (SSRF protection);
    // apps on a private network or loopback need the operator's explicit opt-in.
    ...(settings.outboundPrivateNetworks ? { fetch: withoutSsrfGuard } : {}),
    // `gid` (the grant id) lets our introspection answer for a JWT from live state:
    // the token dies with its grant (src/oidc/introspection.ts).
    extraTokenClaims: resources.extraTokenClaims as Configuration['extraTokenClaims'],
    formats: {
      customizers: {
        jwt: (ctx, token, jwt) => {
          if ('grantId' in token && token.grantId) jwt.payload.gid = token.grantId;
          // How the user signed in (RFC 9068 §2.2.1), from the code or refresh token behind it.
          const source = ctx.oidc.entities.AuthorizationCode ?? ctx.oidc.entities.RefreshToken ?? ctx.oidc.entities.DeviceCode;
          if (source?.acr) jwt.payload.acr = source.acr;
          if (source?.amr) jwt.payload.amr = source.amr;
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
      properties: [...REFRESH_CLIENT_METADATA, RESOURCE_SERVER_AUDIENCES, REQUIRE_VERIFIED_EMAIL, deps.signIn.clientMetadata.property],
      // Called once per listed property on every client oidc-provider builds; the
      // whole-client rules run once, with resource_server_audiences.
      validator: (_ctx, key, value, metadata) => {
        if (key === RESOURCE_SERVER_AUDIENCES) validateClientRules(metadata);
        else if (key === REQUIRE_VERIFIED_EMAIL) validateRequireVerifiedEmail(value);
        else if (key === deps.signIn.clientMetadata.property) deps.signIn.clientMetadata.validate(value);
        else validateRefreshMetadata(key, value);
      },
    },
    clientBasedCORS: mayCallFromBrowser,
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: interactionPolicyFor(accounts, deps.signIn.loginChecks),
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: (_ctx, caller, token) => mayIntrospect(caller, token) },
      revocation: { enabled: true, allowedPolicy: (_ctx, caller, token) => mayRevoke(caller, token) },
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
        // A resource named at /authorize carries over to /token without repeating it, except
        // on a refresh whose `scope` names OpenID scopes only: that asks for a userinfo token.
        useGrantedResource: (ctx) => !asksForOidcScopesOnly(ctx.oidc.params?.scope),
      },
      ...deps.protocols,
      // The typings model each feature's options as a union the object literal cannot narrow.
    } as Configuration['features'],
    rotateRefreshToken: (ctx) => refreshPolicyFor(settings, ctx.oidc.client).rotate,
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? settings.ttl.accessToken,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? defaults.ttl.clientCredentials,
      AuthorizationCode: defaults.ttl.authorizationCode,
      DeviceCode: defaults.protocols.deviceFlow.codeTtl,
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

/** The account with the feature's ID token claims added (the scopes' claim lists still decide what is released). */
function withIdTokenClaims(account: Account | undefined, token: unknown, extra: IdTokenClaims | undefined): Account | undefined {
  if (!account || !extra) return account;
  const dated = token as { amr?: string[]; authTime?: number } | undefined;
  return {
    ...account,
    async claims(use, scope, claims, rejected) {
      const own = await account.claims(use, scope, claims, rejected);
      return use === 'id_token' ? { ...(await extra(account.accountId, dated)), ...own } : own;
    },
  };
}

function asksForOidcScopesOnly(scope: unknown): boolean {
  return typeof scope === 'string' && scope.split(' ').every((s) => OIDC_SCOPES.has(s));
}

/** oidc-provider's outbound fetch without its special-use-address dispatcher. */
function withoutSsrfGuard(url: string | URL | Request, options?: RequestInit): Promise<Response> {
  const { dispatcher: _guard, ...rest } = (options ?? {}) as RequestInit & { dispatcher?: unknown };
  return globalThis.fetch(url, rest);
}
