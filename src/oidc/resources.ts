import { errors, type KoaContextWithOIDC, type Client, type ResourceServer } from 'oidc-provider';

import { adminScope, OIDC_SCOPES } from '../../config/claims.js';
import { defaults } from '../../config/defaults.js';
import type { Settings } from '../config/settings.js';
import { guardedDatabaseCall } from '../db/unavailable.js';
import { accountAudience as accountApiAudience, isFirstParty } from '../account/first-party.js';

/** What a registered API (src/apis/) allows one token request. */
export interface RegisteredResourceServer {
  /** The scopes this request may get, space-separated (possibly none). */
  scope: string;
  accessTokenTTL?: number;
}

/** The APIs operators register (src/apis/), as the provider asks about them. */
export interface RegisteredApis {
  /** Undefined when no API is registered at `indicator`; may throw oidc-provider errors (invalid_scope). */
  resourceServer(ctx: KoaContextWithOIDC, indicator: string, client: Client): Promise<RegisteredResourceServer | undefined>;
  /** Claims an access token gets beyond the standard ones (a `roles` claim). */
  tokenClaims(token: { kind: string; accountId?: string; resourceServer?: { audience?: string } }): Promise<Record<string, unknown> | undefined>;
}

/** The APIs we issue JWT access tokens (RFC 9068) for, keyed by resource indicator. */
export interface ResourceCatalog {
  adminAudience: string;
  accountAudience: string;
  /** Audiences that are ours alone: no operator may register or change an API at them. */
  builtInAudiences: readonly string[];
  getResourceServerInfo(ctx: KoaContextWithOIDC, indicator: string, client: Client): Promise<ResourceServer>;
  /** oidc-provider's extraTokenClaims. */
  extraTokenClaims(ctx: KoaContextWithOIDC, token: Parameters<RegisteredApis['tokenClaims']>[0]): Promise<Record<string, unknown> | undefined>;
  defaultResource(ctx: KoaContextWithOIDC, client: Client, oneOf?: readonly string[]): string | readonly string[] | undefined;
}

export function resourceCatalog(settings: Settings, apis: RegisteredApis): ResourceCatalog {
  const adminAudience = adminApiAudience(settings.issuer);
  const accountAudience = accountApiAudience(settings.issuer);
  const jwt = { accessTokenFormat: 'jwt' as const, accessTokenTTL: settings.ttl.accessToken, jwt: { sign: { alg: settings.signingAlg } } };

  return {
    adminAudience,
    accountAudience,
    builtInAudiences: [adminAudience, accountAudience],
    async getResourceServerInfo(ctx, indicator, client) {
      // Only the bootstrapped admin client may ever hold a token for the admin API.
      if (indicator === adminAudience && client.clientId === settings.admin.clientId) {
        return { ...jwt, scope: adminScope, audience: adminAudience };
      }
      // The user's own account API: only for our first-party apps (src/account/first-party.ts).
      if (indicator === accountAudience && isFirstParty(settings, client.clientId)) {
        return { ...jwt, scope: defaults.account.scope, audience: accountAudience };
      }
      if (indicator === adminAudience || indicator === accountAudience) throw new errors.InvalidTarget();
      const registered = await guardedDatabaseCall(() => apis.resourceServer(ctx, indicator, client));
      if (!registered) throw new errors.InvalidTarget();
      return { ...jwt, ...registered, audience: indicator };
    },
    extraTokenClaims: (_ctx, token) => guardedDatabaseCall(() => apis.tokenClaims(token)),
    defaultResource(ctx, client, oneOf) {
      if (ctx.oidc.route !== 'token') return oneOf;
      // Lets the admin client ask for `scope=admin` without naming the resource.
      if (client.clientId === settings.admin.clientId) return adminAudience;
      // Without a resource, oidc-provider would drop API scopes of client_credentials silently
      // and issue a token good for nothing; the client is told instead.
      if (ctx.oidc.params?.grant_type === 'client_credentials') {
        const apiScope = String(ctx.oidc.params.scope ?? '').split(' ').find((scope) => scope && !OIDC_SCOPES.has(scope));
        if (apiScope !== undefined) throw new errors.InvalidScope('an API scope needs the resource parameter naming its API', apiScope);
      }
      return oneOf;
    },
  };
}

export function adminApiAudience(issuer: string): string {
  return `${issuer}/admin`;
}
