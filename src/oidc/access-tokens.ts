import { createLocalJWKSet, jwtVerify, type JWK, type JWTPayload } from 'jose';

import type { KeyMaterial } from '../config/keys.js';

/** The claims of one of our RFC 9068 JWT access tokens, after verification. */
export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  sub?: string;
  scope?: string;
  /** The grant the token was issued under (added in src/oidc/configuration.ts); absent for client credentials. */
  gid?: string;
}

export type AccessTokenVerifier = (token: string) => Promise<AccessTokenClaims>;

/** Only public members: createLocalJWKSet must never be handed private key material. */
const PUBLIC_MEMBERS = ['kty', 'kid', 'alg', 'use', 'n', 'e', 'crv', 'x', 'y'] as const;

export function publicJwks(keys: KeyMaterial): { keys: JWK[] } {
  return {
    keys: keys.jwks.keys.map((key) => Object.fromEntries(
      PUBLIC_MEMBERS.filter((member) => key[member] !== undefined).map((member) => [member, key[member]]),
    ) as JWK),
  };
}

/**
 * Verifies a JWT access token issued by this server: our signature, `typ: at+jwt`, our
 * issuer, not expired. Audience is the caller's decision. Throws jose's errors otherwise.
 */
export function accessTokenVerifier(issuer: string, keys: KeyMaterial): AccessTokenVerifier {
  const jwks = createLocalJWKSet(publicJwks(keys));
  return async (token) => {
    const { payload } = await jwtVerify(token, jwks, {
      issuer,
      typ: 'at+jwt',
      algorithms: ['RS256', 'ES256'],
      requiredClaims: ['exp', 'iat', 'jti', 'client_id'],
    });
    if (typeof payload.client_id !== 'string') throw new TypeError('client_id claim must be a string');
    return payload as AccessTokenClaims;
  };
}
