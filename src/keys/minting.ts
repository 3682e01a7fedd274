import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';

import type { Ring, SigningAlg, StoredKey } from '../db/models/key-set.js';
import type { KeySealer } from './sealing.js';

/** The members a public JWK may carry; anything else (d, p, q, dp, dq, qi, k) is private. */
const PUBLIC_MEMBERS = ['kty', 'kid', 'alg', 'use', 'n', 'e', 'crv', 'x', 'y'] as const;

export function publicJwk(key: JWK): JWK {
  return Object.fromEntries(
    PUBLIC_MEMBERS.filter((member) => key[member] !== undefined).map((member) => [member, key[member]]),
  ) as JWK;
}

/** The private JWK a signing key is used as: alg, use and kid always set (oidc-provider selects by them). */
export async function signingJwk(jwk: JWK, alg: SigningAlg): Promise<JWK> {
  return { ...jwk, alg, use: 'sig', kid: jwk.kid ?? (await calculateJwkThumbprint(jwk)) };
}

/** A stored record for a private key: sealed private part, public part in clear. */
export async function storedKey(
  ring: Ring, privateJwk: JWK, fields: Omit<StoredKey, 'kid' | 'ring' | 'sealed' | 'publicJwk'>, sealer: KeySealer,
): Promise<StoredKey> {
  const kid = privateJwk.kid!;
  return {
    kid,
    ring,
    ...fields,
    ...(ring === 'cookie' ? {} : { publicJwk: publicJwk(privateJwk) }),
    sealed: await sealer.seal(kid, privateJwk),
  };
}

/** A Keygrip cookie key (a string) as an `oct` JWK, so it is sealed like any other key. */
export function cookieJwk(secret: string): JWK {
  // A random kid: a thumbprint of a secret key would be a hash of the secret.
  return { kty: 'oct', k: Buffer.from(secret).toString('base64url'), kid: `cookie-${randomBytes(8).toString('hex')}` };
}

export function cookieSecret(jwk: JWK): string {
  return Buffer.from(jwk.k!, 'base64url').toString('utf8');
}

/** A fresh key for a ring: an RSA or P-256 key pair, or 32 random bytes for cookies. */
export async function freshPrivateJwk(ring: Ring): Promise<JWK> {
  if (ring === 'cookie') return cookieJwk(randomBytes(32).toString('base64url'));
  const { privateKey } = await generateKeyPair(ring, { extractable: true });
  return signingJwk(await exportJWK(privateKey), ring);
}

export type KeyMint = (ring: Ring, fields: Omit<StoredKey, 'kid' | 'ring' | 'sealed' | 'publicJwk' | 'source'>) => Promise<StoredKey>;

export function keyMint(sealer: KeySealer): KeyMint {
  return async (ring, fields) => storedKey(ring, await freshPrivateJwk(ring), { ...fields, source: 'generated' }, sealer);
}
