import { randomBytes, scryptSync } from 'node:crypto';

/** A hash exactly as the server wrote them before argon2id: `scrypt$N$r$p$salt$hash`
 * (base64url), NFKC-normalised password, 32-byte key. For upgrade tests. */
export function legacyScryptHash(password: string, N = 2 ** 14): string {
  const salt = randomBytes(16);
  const key = scryptSync(password.normalize('NFKC'), salt, 32, { N, r: 8, p: 1, maxmem: 128 * N * 8 * 2 });
  return ['scrypt', N, 8, 1, salt.toString('base64url'), key.toString('base64url')].join('$');
}
