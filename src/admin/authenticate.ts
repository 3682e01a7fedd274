import type { Middleware } from 'koa';

import { adminScope } from '../../config/claims.js';
import type { AccessTokenVerifier } from '../oidc/access-tokens.js';
import { AdminError } from './http.js';

const REALM = 'realm="admin"';

/**
 * The admin API is a resource server of our own provider (RFC 6750): a valid JWT access
 * token from us is required (401 otherwise); it must be for the admin API and carry the
 * admin scope (403 otherwise). A token for another of our APIs is genuine but not enough.
 */
export function requireAdminToken(verify: AccessTokenVerifier, adminAudience: string): Middleware {
  return async (ctx, next) => {
    const match = /^Bearer ([\w.~+/-]+=*)$/i.exec(ctx.get('authorization'));
    if (!match) {
      throw new AdminError(401, 'invalid_request', 'a Bearer access token is required', {
        'WWW-Authenticate': `Bearer ${REALM}`,
      });
    }
    let claims;
    try {
      claims = await verify(match[1]!);
    } catch (err) {
      const reason = (err as { code?: string }).code === 'ERR_JWT_EXPIRED' ? 'the access token expired' : 'the access token is invalid';
      throw new AdminError(401, 'invalid_token', reason, {
        'WWW-Authenticate': `Bearer ${REALM}, error="invalid_token", error_description="${reason}"`,
      });
    }
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    const scopes = (claims.scope ?? '').split(' ');
    if (!audiences.includes(adminAudience) || !scopes.includes(adminScope)) {
      throw new AdminError(403, 'insufficient_scope', `the ${adminScope} scope for ${adminAudience} is required`, {
        'WWW-Authenticate': `Bearer ${REALM}, error="insufficient_scope", scope="${adminScope}"`,
      });
    }
    ctx.state.adminClientId = claims.client_id;
    await next();
  };
}
