import type { JWK } from 'jose';

import type { KeySources } from '../config/keys.js';
import { SettingsError } from '../config/settings.js';
import type { Ring, SigningAlg, StoredKey } from '../db/models/key-set.js';
import { cookieJwk, signingJwk, storedKey } from './minting.js';
import type { KeySealer } from './sealing.js';
import type { KeyTiming } from './timing.js';

/**
 * The keys configuration held before keys lived in MongoDB (JWKS / JWKS_FILE, COOKIE_KEYS,
 * or development files), as the first key set: per ring the first key keeps signing and
 * the others verify until the retention time, so tokens and cookies issued before stay valid.
 * Kids are kept (a missing kid becomes the RFC 7638 thumbprint, as oidc-provider computed it).
 */
export async function importedKeys(sources: KeySources, sealer: KeySealer, timing: KeyTiming, now: Date): Promise<StoredKey[]> {
  const candidates: Array<[Ring, JWK]> = [];
  for (const [i, jwk] of (sources.jwks?.keys ?? []).entries()) {
    const alg = signingAlgOf(jwk, i);
    candidates.push([alg, await signingJwk(jwk, alg)]);
  }
  for (const secret of sources.cookieKeys ?? []) {
    candidates.push(['cookie', cookieJwk(secret)]);
  }
  const kids = new Set(candidates.map(([, jwk]) => jwk.kid));
  if (kids.size !== candidates.length) throw new SettingsError('invalid setting JWKS: duplicate "kid" values');

  const keys: StoredKey[] = [];
  for (const [ring, jwk] of candidates) {
    const first = !keys.some((key) => key.ring === ring);
    const fields = first
      ? { state: 'current' as const, createdAt: now, activatedAt: now }
      : { state: 'previous' as const, createdAt: now, deactivatedAt: now, retireAt: new Date(now.getTime() + timing.retentionMs(ring)) };
    keys.push(await storedKey(ring, jwk, { ...fields, source: 'imported' }, sealer));
  }
  return keys;
}

function signingAlgOf(jwk: JWK, index: number): SigningAlg {
  if (jwk.use !== undefined && jwk.use !== 'sig') throw new SettingsError(`invalid setting JWKS: key ${index} is not a signing key`);
  const rsa = jwk.kty === 'RSA';
  const p256 = jwk.kty === 'EC' && jwk.crv === 'P-256';
  if (rsa && (jwk.alg ?? 'RS256') === 'RS256') return 'RS256';
  if (p256 && (jwk.alg ?? 'ES256') === 'ES256') return 'ES256';
  throw new SettingsError(`invalid setting JWKS: key ${index} is not an RS256 (RSA) or ES256 (P-256) signing key`);
}
