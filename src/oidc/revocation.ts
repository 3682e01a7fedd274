import type { Context } from 'koa';

import type { SecurityEvents } from '../security/events.js';
import type { AccessTokenClaims, AccessTokenVerifier } from './access-tokens.js';
import { providerRoute, type Amendment } from './amendments.js';
import { ownership, refusedJwt } from './introspection.js';
import type { ArtifactStore } from './store.js';
import { mayRevoke } from './token-access.js';

export interface RevocationDeps {
  store: ArtifactStore;
  events: SecurityEvents;
  verifyAccessToken: AccessTokenVerifier;
}

/**
 * The revocation endpoint (RFC 7009) as browser libraries expect it:
 * - success is 200 with no body and no Content-Type. oidc-provider answers an empty
 *   `text/plain` body, which oidc-client-ts refuses ("Invalid response Content-Type"),
 *   so a SPA's revokeTokens() and sign-out with revokeTokensOnSignout fail;
 * - our JWT access tokens, which oidc-provider refuses as `unsupported_token_type`, are
 *   revoked through their grant (the `gid` claim): introspection then calls them inactive
 *   and the grant's refresh tokens die with it, as for an opaque access token.
 */
export function revocationResponses(deps: RevocationDeps): Amendment {
  return (ctx) => (providerRoute(ctx) === 'revocation' ? amend(ctx, deps) : undefined);
}

async function amend(ctx: Context, deps: RevocationDeps): Promise<void> {
  const refused = refusedJwt(ctx, 'revocation');
  if (refused) {
    const claims = await verified(deps, refused.token);
    // A client-credentials JWT has no grant to end: leave oidc-provider's answer.
    if (claims && !claims.gid) return;
    if (claims?.gid && mayRevoke(refused.caller, ownership(claims))) await revokeGrant(ctx, deps, claims, claims.gid);
    ctx.status = 200;
    ctx.body = '';
  }
  if (ctx.status !== 200 || ctx.body !== '') return;
  // An explicit null body drops Content-Type; Koa then sends the 200 with Content-Length: 0.
  // (Koa turns null into the JSON text `null` while the type is still JSON, so drop it first.)
  ctx.remove('Content-Type');
  ctx.body = null;
  ctx.status = 200;
}

async function verified(deps: RevocationDeps, token: string): Promise<AccessTokenClaims | undefined> {
  try {
    return await deps.verifyAccessToken(token);
  } catch {
    // Not ours, tampered with or expired: RFC 7009 §2.2 answers 200 for an invalid token.
    return undefined;
  }
}

async function revokeGrant(ctx: Context, deps: RevocationDeps, claims: AccessTokenClaims, grantId: string): Promise<void> {
  const artifacts = await deps.store.revokeGrant(grantId);
  await deps.events.record('grant.revoked', {
    accountId: claims.sub, clientId: claims.client_id, grantId, ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined,
    detail: { reason: 'access_token_revocation', artifacts },
  });
}
