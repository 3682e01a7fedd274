import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

import { defaults } from '../../config/defaults.js';
import { argon2id, type Argon2Params } from './argon2.js';

export type { Argon2Params };

const { saltBytes, keyLength } = defaults.password;
const ARGON2_VERSION = 19;
/** `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`, salt and hash in unpadded standard base64. */
const PHC = /^\$argon2id\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/**
 * argon2id (src/security/argon2.ts) with a per-user salt, as a standard PHC string
 * that carries its parameters, so the cost can be raised later and old hashes still verify.
 */
export async function hashPassword(password: string, params: Argon2Params): Promise<string> {
  const salt = randomBytes(saltBytes);
  const key = await deriveArgon2(password, salt, params, keyLength);
  return `$argon2id$v=${ARGON2_VERSION}$m=${params.memoryKiB},t=${params.iterations},p=${params.parallelism}` +
    `$${phcBase64(salt)}$${phcBase64(key)}`;
}

/** Checks a password against an argon2id PHC string or a legacy `scrypt$N$r$p$salt$hash`. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const argon = parseArgon2(stored);
  if (argon) {
    const key = await deriveArgon2(password, argon.salt, argon.params, argon.hash.length);
    return timingSafeEqual(key, argon.hash);
  }
  const legacy = parseScrypt(stored);
  if (!legacy) return false;
  const key = await deriveScrypt(password, legacy);
  return key.length === legacy.hash.length && timingSafeEqual(key, legacy.hash);
}

/** True when the stored hash is not argon2id or is cheaper than `params`: it is redone at
 * the next successful sign-in. A stronger stored hash is never weakened. */
export function needsRehash(stored: string, params: Argon2Params): boolean {
  const argon = parseArgon2(stored);
  if (!argon) return true;
  return argon.params.memoryKiB < params.memoryKiB || argon.params.iterations < params.iterations
    || argon.hash.length < keyLength;
}

/** A hash of a random password: verifying against it costs the same as a real account, so
 * response time does not tell whether a username exists. */
export async function decoyHash(params: Argon2Params): Promise<string> {
  return hashPassword(randomBytes(16).toString('hex'), params);
}

function deriveArgon2(password: string, salt: Buffer, params: Argon2Params, tagLength: number): Promise<Buffer> {
  return argon2id.derive(normalize(password), salt, params, tagLength);
}

interface ScryptHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

function deriveScrypt(password: string, { N, r, p, salt, hash }: ScryptHash): Promise<Buffer> {
  // scrypt needs 128 * N * r bytes; raise maxmem just enough for the stored cost.
  const maxmem = 128 * N * r * 2;
  return new Promise((resolve, reject) => {
    scrypt(normalize(password), salt, hash.length, { N, r, p, maxmem }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function parseArgon2(stored: string): { params: Argon2Params; salt: Buffer; hash: Buffer } | undefined {
  const match = PHC.exec(stored);
  if (!match || Number(match[1]) !== ARGON2_VERSION) return undefined;
  const [memoryKiB, iterations, parallelism] = [match[2], match[3], match[4]].map(Number) as [number, number, number];
  return {
    params: { memoryKiB, iterations, parallelism },
    salt: Buffer.from(match[5]!, 'base64'),
    hash: Buffer.from(match[6]!, 'base64'),
  };
}

/** Hashes written before argon2id: `scrypt$N$r$p$salt$hash` (base64url). Verified only. */
function parseScrypt(stored: string): ScryptHash | undefined {
  const [scheme, n, r, p, salt, hash, ...rest] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash || rest.length > 0) return undefined;
  const [N, R, P] = [n, r, p].map(Number) as [number, number, number];
  if (![N, R, P].every((v) => Number.isSafeInteger(v) && v > 0)) return undefined;
  return { N, r: R, p: P, salt: Buffer.from(salt, 'base64url'), hash: Buffer.from(hash, 'base64url') };
}

/** The same password typed on different keyboards (composed or decomposed accents) matches. */
function normalize(password: string): string {
  return password.normalize('NFKC');
}

/** PHC strings use standard base64 without padding. */
function phcBase64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}
