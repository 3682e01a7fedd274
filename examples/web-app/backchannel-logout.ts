import { createRemoteJWKSet, jwtVerify } from 'jose';
import type * as client from 'openid-client';

const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

export interface LogoutTarget {
  sub?: string;
  /** The provider session that ended; present because the app registered backchannel_logout_session_required. */
  sid?: string;
}

/**
 * Validates a logout token as OIDC Back-Channel Logout 1.0 §2.6 asks: signed by the
 * provider's keys, our issuer, our client as audience, `typ: logout+jwt`, recent, the
 * back-channel-logout event, a `sub` or `sid`, and no `nonce` (so an ID token cannot pass).
 */
export function logoutTokenVerifier(config: client.Configuration): (logoutToken: string) => Promise<LogoutTarget> {
  const { issuer, jwks_uri } = config.serverMetadata();
  const jwks = createRemoteJWKSet(new URL(jwks_uri!));
  const audience = config.clientMetadata().client_id;

  return async (logoutToken) => {
    const { payload } = await jwtVerify(logoutToken, jwks, {
      issuer, audience, typ: 'logout+jwt', maxTokenAge: '5 minutes', requiredClaims: ['iat', 'jti', 'events'],
    });
    const events = payload.events as Record<string, unknown> | undefined;
    if (typeof events?.[BACKCHANNEL_LOGOUT_EVENT] !== 'object') throw new Error('not a back-channel logout event');
    if (!payload.sub && typeof payload.sid !== 'string') throw new Error('neither sub nor sid');
    if (payload.nonce !== undefined) throw new Error('a logout token carries no nonce');
    // §2.6 step 7 (refusing a replayed jti) is optional; a replay only ends what already ended.
    return { sub: payload.sub, sid: typeof payload.sid === 'string' ? payload.sid : undefined };
  };
}
