import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

import type { AccessTokenClaims, AccessTokenVerifier } from './access-tokens.js';
import type { ProviderSource } from './provider-host.js';
import type { AccountModel } from '../db/models/account.js';

export interface IntrospectionDeps {
  providers: ProviderSource;
  accounts: AccountModel;
  verifyAccessToken: AccessTokenVerifier;
}

/**
 * oidc-provider refuses to introspect JWT access tokens (unsupported_token_type, after
 * client authentication). This answers for our own JWTs instead, from live state: the
 * grant still exists and the user is enabled and not revoked since the token was issued.
 * So a resource server that needs the instant answer gets it here; one that verifies
 * offline accepts the JWT until exp (hence the short access-token TTL).
 */
export function jwtIntrospection(deps: IntrospectionDeps): Middleware {
  return async (ctx, next) => {
    await next();
    const oidc = (ctx as unknown as KoaContextWithOIDC).oidc as KoaContextWithOIDC['oidc'] | undefined;
    if (oidc?.route !== 'introspection' || !oidc.client) return;
    if ((ctx.body as { error?: string } | undefined)?.error !== 'unsupported_token_type') return;
    const token = oidc.params?.token;
    if (typeof token !== 'string') return;

    ctx.status = 200;
    ctx.body = await introspect(deps, token, oidc.client);
  };
}

type Caller = NonNullable<KoaContextWithOIDC['oidc']['client']>;

async function introspect(deps: IntrospectionDeps, token: string, caller: Caller): Promise<Record<string, unknown>> {
  const inactive = { active: false };
  let claims: AccessTokenClaims;
  try {
    claims = await deps.verifyAccessToken(token);
  } catch {
    // Not ours, tampered with or expired: RFC 7662 says "inactive", with no reason given.
    return inactive;
  }
  // The same rule as oidc-provider's default features.introspection.allowedPolicy.
  if (caller.clientAuthMethod === 'none' && claims.client_id !== caller.clientId) return inactive;
  if (!(await isLive(deps, claims))) return inactive;
  return {
    active: true,
    sub: claims.sub,
    client_id: claims.client_id,
    scope: claims.scope,
    aud: claims.aud,
    exp: claims.exp,
    iat: claims.iat,
    iss: claims.iss,
    jti: claims.jti,
    token_type: 'Bearer',
  };
}

async function isLive(deps: IntrospectionDeps, claims: AccessTokenClaims): Promise<boolean> {
  // client_credentials: no user and no grant, so the client itself must still exist.
  if (!claims.gid) return claims.sub === claims.client_id && (await deps.providers.provider.Client.find(claims.client_id)) !== undefined;

  const grant = await deps.providers.provider.Grant.find(claims.gid);
  if (!grant || grant.clientId !== claims.client_id || grant.accountId !== claims.sub) return false;

  const account = await deps.accounts.findById(claims.sub).lean();
  if (!account || account.disabled) return false;
  // Revocation stores an instant; a token from the same second could predate it, so it is dead too.
  const cutOff = account.tokensValidAfter ? Math.floor(account.tokensValidAfter.getTime() / 1000) : -Infinity;
  return claims.iat > cutOff;
}
