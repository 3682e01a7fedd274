import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * Signs and checks cookie signatures for Koa and oidc-provider (both take this in place of a
 * Keygrip): Keygrip's HMAC-SHA1 in base64url, so cookies signed before still verify, and the
 * same order (the first key signs, any key verifies). Each key is prepared once and the
 * comparison is timingSafeEqual; Keygrip imported the key for every HMAC and compared
 * through two more HMACs, a noticeable share of every request's CPU.
 */
export class CookieSigner {
  readonly #keys: KeyObject[];

  constructor(secrets: readonly string[]) {
    if (secrets.length === 0) throw new Error('cookie keys are required');
    this.#keys = secrets.map((secret) => createSecretKey(Buffer.from(secret, 'utf8')));
  }

  sign(data: string): string {
    return hmac(this.#keys[0]!, data);
  }

  verify(data: string, digest: string): boolean {
    return this.index(data, digest) > -1;
  }

  /** Which key made `digest`, or -1. */
  index(data: string, digest: string): number {
    const given = Buffer.from(String(digest));
    return this.#keys.findIndex((key) => {
      const expected = Buffer.from(hmac(key, data));
      return expected.length === given.length && timingSafeEqual(expected, given);
    });
  }
}

const signers = new WeakMap<readonly string[], CookieSigner>();

/** One signer per key list, shared by the app and the provider built from the same keys. */
export function cookieSigner(secrets: readonly string[]): CookieSigner {
  let signer = signers.get(secrets);
  if (!signer) {
    signer = new CookieSigner(secrets);
    signers.set(secrets, signer);
  }
  return signer;
}

function hmac(key: KeyObject, data: string): string {
  return createHmac('sha1', key).update(data).digest('base64url');
}
