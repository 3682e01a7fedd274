import type { Context } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

import type { AccessTokenClaims, AccessTokenVerifier } from './access-tokens.js';
import type { Amendment } from './amendments.js';
import type { ProviderSource } from './provider-host.js';
import type { AccountModel } from '../db/models/account.js';
import { predatesCutOff } from '../revocation/cutoff.js';
import { mayIntrospect, type TokenOwnership } from './token-access.js';

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
export function jwtIntrospection(deps: IntrospectionDeps): Amendment {
  return (ctx) => {
    const refused = refusedJwt(ctx, 'introspection');
    return refused ? answer(ctx, deps, refused) : undefined;
  };
}

async function answer(ctx: Context, deps: IntrospectionDeps, { token, caller }: { token: string; caller: Caller }): Promise<void> {
  ctx.status = 200;
  ctx.body = await introspect(deps, token, caller);
}

/**
 * The JWT and the authenticated caller when oidc-provider just answered
 * `unsupported_token_type` for a structured token at `route` (it does so only after
 * client authentication succeeded); undefined for every other response.
 */
export function refusedJwt(ctx: Context, route: 'introspection' | 'revocation'): { token: string; caller: Caller } | undefined {
  const oidc = (ctx as unknown as KoaContextWithOIDC).oidc as KoaContextWithOIDC['oidc'] | undefined;
  if (oidc?.route !== route || !oidc.client) return undefined;
  if ((ctx.body as { error?: string } | undefined)?.error !== 'unsupported_token_type') return undefined;
  const token = oidc.params?.token;
  return typeof token === 'string' ? { token, caller: oidc.client } : undefined;
}

type Caller = NonNullable<KoaContextWithOIDC['oidc']['client']>;

/** A JWT access token as the token-access policy sees it; no `gid` means client credentials. */
export function ownership(claims: AccessTokenClaims): TokenOwnership {
  return { kind: claims.gid ? 'AccessToken' : 'ClientCredentials', clientId: claims.client_id, aud: claims.aud };
}

async function introspect(deps: IntrospectionDeps, token: string, caller: Caller): Promise<Record<string, unknown>> {
  const inactive = { active: false };
  let claims: AccessTokenClaims;
  try {
    claims = await deps.verifyAccessToken(token);
  } catch {
    // Not ours, tampered with or expired: RFC 7662 says "inactive", with no reason given.
    return inactive;
  }
  if (!mayIntrospect(caller, ownership(claims))) return inactive;
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
    // How the user signed in (src/mfa/acr.ts), for an API that wants a second step.
    ...(claims.acr ? { acr: claims.acr } : {}),
    ...(claims.amr ? { amr: claims.amr } : {}),
    // RFC 9449 §6.2: a bound token says so, and to which key.
    ...(claims.cnf ? { cnf: claims.cnf, token_type: 'DPoP' } : { token_type: 'Bearer' }),
  };
}

/** Whether a verified JWT access token still stands for live state; the account API asks too. */
export async function isLive(deps: Pick<IntrospectionDeps, 'providers' | 'accounts'>, claims: AccessTokenClaims): Promise<boolean> {
  // client_credentials: no user and no grant, so the client itself must still exist.
  if (!claims.gid) return claims.sub === claims.client_id && (await deps.providers.provider.Client.find(claims.client_id)) !== undefined;

  const grant = await deps.providers.provider.Grant.find(claims.gid);
  if (!grant || grant.clientId !== claims.client_id || grant.accountId !== claims.sub) return false;

  const account = await deps.accounts.findById(claims.sub).lean();
  if (!account || account.disabled) return false;
  // The user's cut-off (src/revocation/cutoff.ts): a token from its very second is dead too.
  return !predatesCutOff(account, claims.iat);
}
