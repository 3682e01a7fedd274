import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

import { defaults } from '../../config/defaults.js';

const { scryptR, scryptP, keyLength } = defaults.password;

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  // scrypt needs 128 * N * r bytes; raise maxmem just enough for the configured cost.
  const maxmem = 128 * options.N! * options.r! * 2;
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, keyLength, { ...options, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key));
  });
}

/**
 * Memory-hard hash with a per-user salt, stored as `scrypt$N$r$p$salt$hash` so the cost
 * can be raised later without invalidating existing hashes.
 */
export async function hashPassword(password: string, N: number = defaults.password.scryptN): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, { N, r: scryptR, p: scryptP });
  return ['scrypt', N, scryptR, scryptP, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await derive(password, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A hash of a random password: verifying against it costs the same as a real account, so
 * response time does not tell whether a username exists. */
export async function decoyHash(N?: number): Promise<string> {
  return hashPassword(randomBytes(16).toString('hex'), N);
}
