import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

/** A refusal in RFC 6750 terms: 401 invalid_token or 403 insufficient_scope. */
export class BearerError extends Error {
  constructor(readonly status: 401 | 403, readonly error: 'invalid_token' | 'insufficient_scope', description: string, readonly scope?: string) {
    super(description);
  }
}

/** Verifies the provider's JWT access tokens (RFC 9068) offline, against its published keys. */
export function accessTokenVerifier(issuer: string, apiAudience: string) {
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`)); // fetched once, refetched on an unknown kid

  return async (accessToken: string, requiredScope: string): Promise<JWTPayload> => {
    const { payload } = await jwtVerify(accessToken, jwks, {
      issuer,
      audience: apiAudience,
      typ: 'at+jwt', // an ID token or another JWT signed by the same keys is not an access token
      algorithms: ['RS256', 'ES256'],
      requiredClaims: ['exp', 'iat', 'sub', 'client_id', 'jti'], // exp is also checked, of course
    }).catch((err: Error) => {
      throw new BearerError(401, 'invalid_token', err.message); // expired, wrong audience, bad signature, …
    });
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
    if (!scopes.includes(requiredScope)) throw new BearerError(403, 'insufficient_scope', `requires ${requiredScope}`, requiredScope);
    return payload;
  };
}
