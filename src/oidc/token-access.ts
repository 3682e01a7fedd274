import type { Client, KoaContextWithOIDC } from 'oidc-provider';

import { RESOURCE_SERVER_AUDIENCES } from './client-rules.js';

/** What the policy needs of a token, whether oidc-provider loaded it or we verified a JWT. */
export interface TokenOwnership {
  kind: string;
  /** The client the token was issued to. */
  clientId?: string | undefined;
  aud?: string | readonly string[] | undefined;
}

/**
 * Who may learn what a token is (RFC 7662 §4): the client it was issued to, or a
 * confidential client registered as a resource server for the token's audience.
 * Everyone else is told `{"active": false}`, exactly as for an unknown token.
 * Used by oidc-provider's introspection (opaque tokens) and by ours (JWTs).
 */
export function mayIntrospect(caller: Client, token: TokenOwnership): boolean {
  if (token.clientId === caller.clientId) return true;
  // A refresh token is only ever presented by its client; no API has a reason to read one.
  if (token.kind === 'RefreshToken') return false;
  if (caller.clientAuthMethod === 'none') return false;
  const served = resourceServerAudiences(caller);
  return audiences(token.aud).some((aud) => served.includes(aud));
}

/**
 * A client may revoke only its own tokens. Anyone else gets the same empty 200 as for an
 * unknown token (RFC 7009 §2.2), so revocation cannot tell a caller whether a token exists.
 */
export function mayRevoke(caller: Client, token: TokenOwnership): boolean {
  return token.clientId === caller.clientId;
}

/**
 * Browsers may call the token, revocation and introspection endpoints only for public
 * clients, from the origin of one of their redirect URIs (a SPA); userinfo also for
 * confidential ones. A confidential client's secret has no business in a browser.
 */
export function mayCallFromBrowser(ctx: KoaContextWithOIDC, origin: string, client: Client): boolean {
  if (origin === 'null') return false;
  if (ctx.oidc.route !== 'userinfo' && client.clientAuthMethod !== 'none') return false;
  return (client.redirectUris ?? []).some((uri) => URL.parse(uri)?.origin === origin);
}

function resourceServerAudiences(client: Client): readonly string[] {
  const value = (client.metadata() as Record<string, unknown>)[RESOURCE_SERVER_AUDIENCES];
  return Array.isArray(value) ? value.filter((aud): aud is string => typeof aud === 'string') : [];
}

function audiences(aud: TokenOwnership['aud']): readonly string[] {
  if (aud === undefined) return [];
  return typeof aud === 'string' ? [aud] : aud;
}
