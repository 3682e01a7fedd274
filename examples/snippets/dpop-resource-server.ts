import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify, type JWTPayload } from 'jose';

import { accessTokenVerifier, BearerError } from './jose-resource-server.js';

/** What the API sees of one request: its method, full URL and two headers. */
export interface ApiRequest { method: string; url: string; authorization?: string; dpop?: string }

/**
 * Accepts the provider's access tokens the way RFC 9449 §7 asks: a token bound to a key
 * (`cnf.jkt`) only as `Authorization: DPoP <token>` with a fresh proof signed by that key
 * for this very request; an unbound token as `Bearer`. A stolen bound token is useless
 * without the private key.
 */
export function dpopAwareVerifier(issuer: string, apiAudience: string) {
  const verifyToken = accessTokenVerifier(issuer, apiAudience);
  const seen = new Map<string, number>(); // proof ids already used (a shared store across instances)

  return async (req: ApiRequest, requiredScope: string): Promise<JWTPayload> => {
    const [scheme, token] = (req.authorization ?? '').split(' ');
    if (!token || !/^(Bearer|DPoP)$/i.test(scheme!)) throw new BearerError(401, 'invalid_token', 'no access token');
    const claims = await verifyToken(token, requiredScope);
    const jkt = (claims.cnf as { jkt?: string } | undefined)?.jkt;
    if (!jkt) {
      if (!/^Bearer$/i.test(scheme!)) throw new BearerError(401, 'invalid_token', 'not a DPoP-bound token');
      return claims;
    }
    if (!/^DPoP$/i.test(scheme!) || !req.dpop) throw new BearerError(401, 'invalid_token', 'a DPoP-bound token needs its proof');
    const { payload, protectedHeader } = await jwtVerify(req.dpop, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256', 'EdDSA'], maxTokenAge: 60 })
      .catch((err: Error) => { throw new BearerError(401, 'invalid_token', `DPoP proof: ${err.message}`); });
    const ath = createHash('sha256').update(token).digest('base64url');
    const fresh = typeof payload.jti === 'string' && !seen.has(payload.jti);
    if (payload.htm !== req.method || payload.htu !== req.url.split(/[?#]/)[0] || payload.ath !== ath || !fresh
      || (await calculateJwkThumbprint(protectedHeader.jwk!)) !== jkt) {
      throw new BearerError(401, 'invalid_token', 'the DPoP proof does not match this request and token');
    }
    seen.set(payload.jti!, Date.now());
    for (const [jti, at] of seen) if (at < Date.now() - 120_000) seen.delete(jti);
    return claims;
  };
}
