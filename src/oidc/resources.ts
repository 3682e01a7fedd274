import { errors, type KoaContextWithOIDC, type Client, type ResourceServer } from 'oidc-provider';

import { adminScope } from '../../config/claims.js';
import { defaults } from '../../config/defaults.js';
import type { Settings } from '../config/settings.js';
import { accountAudience as accountApiAudience, isFirstParty } from '../account/first-party.js';

/** The APIs we issue JWT access tokens (RFC 9068) for, keyed by resource indicator. */
export interface ResourceCatalog {
  apiAudience: string;
  adminAudience: string;
  accountAudience: string;
  /** APIs a client may register as a resource server of (client metadata resource_server_audiences). */
  introspectableAudiences: readonly string[];
  getResourceServerInfo(ctx: KoaContextWithOIDC, indicator: string, client: Client): ResourceServer;
  defaultResource(ctx: KoaContextWithOIDC, client: Client, oneOf?: readonly string[]): string | readonly string[] | undefined;
}

export function resourceCatalog(settings: Settings): ResourceCatalog {
  const apiAudience = settings.apiAudience;
  const adminAudience = adminApiAudience(settings.issuer);
  const accountAudience = accountApiAudience(settings.issuer);
  const jwt = { accessTokenFormat: 'jwt' as const, accessTokenTTL: settings.ttl.accessToken, jwt: { sign: { alg: settings.signingAlg } } };

  return {
    apiAudience,
    adminAudience,
    accountAudience,
    // The admin API verifies its tokens itself; no client needs to introspect them.
    introspectableAudiences: [apiAudience],
    getResourceServerInfo(_ctx, indicator, client) {
      if (indicator === apiAudience) return { ...jwt, scope: defaults.apiScopes.join(' '), audience: apiAudience };
      // Only the bootstrapped admin client may ever hold a token for the admin API.
      if (indicator === adminAudience && client.clientId === settings.admin.clientId) {
        return { ...jwt, scope: adminScope, audience: adminAudience };
      }
      // The user's own account API: only for our first-party apps (src/account/first-party.ts).
      if (indicator === accountAudience && isFirstParty(settings, client.clientId)) {
        return { ...jwt, scope: defaults.account.scope, audience: accountAudience };
      }
      throw new errors.InvalidTarget();
    },
    defaultResource(ctx, client, oneOf) {
      // Lets the admin client ask for `scope=admin` without naming the resource.
      if (client.clientId === settings.admin.clientId && ctx.oidc.route === 'token') return adminAudience;
      return oneOf;
    },
  };
}

export function adminApiAudience(issuer: string): string {
  return `${issuer}/admin`;
}
