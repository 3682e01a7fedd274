import { createHash } from 'node:crypto';
import { CompactEncrypt, compactDecrypt, decodeProtectedHeader, type JWK } from 'jose';

import { SettingsError } from '../config/settings.js';

/** Protected-header member naming the key a ciphertext belongs to, so records cannot swap secrets. */
const SEALED_KID = 'key_kid';

/**
 * Private key material at rest: a JWE (dir, A256GCM) under the key-encryption key. The JWE's
 * `kid` is a short hash of that key, so a wrong KEY_ENCRYPTION_KEY is named as such.
 */
export class KeySealer {
  readonly #key: Uint8Array;
  readonly #id: string;

  constructor(encryptionKey: Uint8Array) {
    this.#key = encryptionKey;
    this.#id = createHash('sha256').update(encryptionKey).digest('base64url').slice(0, 16);
  }

  seal(kid: string, jwk: JWK): Promise<string> {
    return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(jwk)))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', cty: 'jwk+json', kid: this.#id, [SEALED_KID]: kid })
      .encrypt(this.#key);
  }

  async unseal(kid: string, sealed: string): Promise<JWK> {
    if (decodeProtectedHeader(sealed).kid !== this.#id) {
      throw new SettingsError('KEY_ENCRYPTION_KEY is not the key that encrypted the signing keys stored in MongoDB');
    }
    const { plaintext, protectedHeader } = await compactDecrypt(sealed, this.#key);
    if (protectedHeader[SEALED_KID] !== kid) throw new Error(`stored key material does not belong to key ${kid}`);
    return JSON.parse(new TextDecoder().decode(plaintext)) as JWK;
  }
}
