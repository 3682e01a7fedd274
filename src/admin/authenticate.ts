import type { Middleware } from 'koa';

import { adminScope } from '../../config/claims.js';
import type { AccessTokenClaims, AccessTokenVerifier } from '../oidc/access-tokens.js';
import { AdminError } from './http.js';

/** What one of our own APIs asks of a Bearer token. */
export interface BearerRequirement {
  realm: string;
  audience: string;
  scope: string;
  /** Further checks on a genuine token for this API (say, that it is still live); false answers 401. */
  accept?: (claims: AccessTokenClaims) => Promise<boolean>;
}

/**
 * Our APIs are resource servers of our own provider (RFC 6750): a valid JWT access token
 * from us is required (401 otherwise); it must be for this API and carry its scope (403
 * otherwise). A token for another of our APIs is genuine but not enough. The claims go to
 * ctx.state.accessToken.
 */
export function requireBearer(requirement: BearerRequirement): (verify: AccessTokenVerifier) => Middleware {
  const realm = `realm="${requirement.realm}"`;
  const refuse = (reason: string) => new AdminError(401, 'invalid_token', reason, {
    'WWW-Authenticate': `Bearer ${realm}, error="invalid_token", error_description="${reason}"`,
  });
  return (verify) => async (ctx, next) => {
    const match = /^Bearer ([\w.~+/-]+=*)$/i.exec(ctx.get('authorization'));
    if (!match) {
      throw new AdminError(401, 'invalid_request', 'a Bearer access token is required', { 'WWW-Authenticate': `Bearer ${realm}` });
    }
    let claims: AccessTokenClaims;
    try {
      claims = await verify(match[1]!);
    } catch (err) {
      throw refuse((err as { code?: string }).code === 'ERR_JWT_EXPIRED' ? 'the access token expired' : 'the access token is invalid');
    }
    // A DPoP-bound token (RFC 9449) is only good with a proof of its key; these APIs take
    // Bearer tokens, so presented here it is someone's copy, not its holder.
    if (claims.cnf !== undefined) throw refuse('a DPoP-bound access token is not accepted as a Bearer token');
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    const scopes = (claims.scope ?? '').split(' ');
    if (!audiences.includes(requirement.audience) || !scopes.includes(requirement.scope)) {
      throw new AdminError(403, 'insufficient_scope', `the ${requirement.scope} scope for ${requirement.audience} is required`, {
        'WWW-Authenticate': `Bearer ${realm}, error="insufficient_scope", scope="${requirement.scope}"`,
      });
    }
    if (requirement.accept && !(await requirement.accept(claims))) throw refuse('the access token was revoked');
    ctx.state.accessToken = claims;
    await next();
  };
}

/** The admin API: the admin client's token for the admin API with the admin scope. */
export function requireAdminToken(verify: AccessTokenVerifier, adminAudience: string): Middleware {
  const check = requireBearer({ realm: 'admin', audience: adminAudience, scope: adminScope })(verify);
  return async (ctx, next) => check(ctx, async () => {
    ctx.state.adminClientId = (ctx.state.accessToken as AccessTokenClaims).client_id;
    await next();
  });
}
