import { createLocalJWKSet, jwtVerify, type JWK, type JWTPayload } from 'jose';

import type { KeyMaterial } from '../config/keys.js';
import { publicJwk } from '../keys/minting.js';

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
  /** The key the token is bound to (DPoP, RFC 9449), by its JWK thumbprint. */
  cnf?: { jkt?: string };
  /** How the user signed in (RFC 9068 §2.2.1); absent for client credentials. */
  acr?: string;
  amr?: string[];
}

export type AccessTokenVerifier = (token: string) => Promise<AccessTokenClaims>;

/** Only public members: createLocalJWKSet must never be handed private key material. */
export function publicJwks(keys: KeyMaterial): { keys: JWK[] } {
  return { keys: keys.jwks.keys.map(publicJwk) };
}

/**
 * Verifies a JWT access token issued by this server: our signature (any key of the key set
 * the provider publishes right now), `typ: at+jwt`, our issuer, not expired. Audience is the
 * caller's decision. Throws jose's errors otherwise.
 */
export function accessTokenVerifier(issuer: string, keys: { readonly material: KeyMaterial }): AccessTokenVerifier {
  let verifiedWith: KeyMaterial | undefined;
  let jwks: ReturnType<typeof createLocalJWKSet> | undefined;
  return async (token) => {
    if (keys.material !== verifiedWith) {
      verifiedWith = keys.material;
      jwks = createLocalJWKSet(publicJwks(verifiedWith));
    }
    const { payload } = await jwtVerify(token, jwks!, {
      issuer,
      typ: 'at+jwt',
      algorithms: ['RS256', 'ES256'],
      requiredClaims: ['exp', 'iat', 'jti', 'client_id'],
    });
    if (typeof payload.client_id !== 'string') throw new TypeError('client_id claim must be a string');
    return payload as AccessTokenClaims;
  };
}
