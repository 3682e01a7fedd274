import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { JWK } from 'jose';

import { SettingsError, type Settings } from './settings.js';

/** The keys one provider instance works with, as read from the key set in MongoDB. */
export interface KeyMaterial {
  /** Private signing keys; per algorithm the first one signs, the others only verify. */
  jwks: { keys: JWK[] };
  /** Keygrip keys for signed cookies; the first signs, all verify. */
  cookieKeys: string[];
}

/** What configuration contributes to the key set: the key-encryption key, and keys to import on first start. */
export interface KeySources {
  encryptionKey: Uint8Array;
  jwks: { keys: JWK[] } | undefined;
  cookieKeys: string[] | undefined;
}

/**
 * Keys live in MongoDB (src/keys/); configuration only holds the key that encrypts them
 * and, for deployments that predate that, keys to import. In development the encryption
 * key is generated once under the data directory, and keys an earlier version generated
 * there are imported, so existing tokens and cookies stay valid.
 */
export async function loadKeySources(settings: Settings): Promise<KeySources> {
  const encoded = settings.keys.encryptionKey ?? (await persisted(settings, 'key-encryption-key.json', generateEncryptionKey));
  return {
    encryptionKey: Buffer.from(encoded, 'base64url'),
    jwks: await configuredJwks(settings),
    cookieKeys: settings.cookieKeys ?? (await existing<string[]>(settings, 'cookie-keys.json')),
  };
}

async function configuredJwks(settings: Settings): Promise<{ keys: JWK[] } | undefined> {
  if (settings.jwks) return parseJwks(settings.jwks, 'JWKS');
  if (settings.jwksFile) return parseJwks(await readFile(settings.jwksFile, 'utf8'), 'JWKS_FILE');
  return existing<{ keys: JWK[] }>(settings, 'jwks.json');
}

function parseJwks(text: string, setting: string): { keys: JWK[] } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SettingsError(`invalid setting ${setting}: not JSON`);
  }
  const keys = (value as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k: JWK) => typeof k === 'object' && k.d)) {
    throw new SettingsError(`invalid setting ${setting}: expected {"keys":[...]} with private keys`);
  }
  return { keys };
}

/** A development file an earlier start wrote, if any. */
async function existing<T>(settings: Settings, file: string): Promise<T | undefined> {
  if (settings.production) return undefined;
  try {
    return JSON.parse(await readFile(path.join(settings.dataDir, file), 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return undefined;
  }
}

async function persisted<T>(settings: Settings, file: string, generate: () => T): Promise<T> {
  const found = await existing<T>(settings, file);
  if (found !== undefined) return found;
  const target = path.join(settings.dataDir, file);
  const value = generate();
  await mkdir(settings.dataDir, { recursive: true });
  // wx: two instances starting at once must not overwrite each other's key.
  try {
    await writeFile(target, JSON.stringify(value, null, 2), { mode: 0o600, flag: 'wx' });
    return value;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return JSON.parse(await readFile(target, 'utf8')) as T;
  }
}

/** 32 random bytes, base64url: the form KEY_ENCRYPTION_KEY takes. */
export function generateEncryptionKey(): string {
  return randomBytes(32).toString('base64url');
}
