import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';

import { SettingsError, type Settings } from './settings.js';

export interface KeyMaterial {
  /** Private signing keys, first one per algorithm is used for signing. */
  jwks: { keys: JWK[] };
  /** Keygrip keys for signed cookies; the first signs, all verify (allows rotation). */
  cookieKeys: string[];
}

/**
 * Keys come from configuration. In development they are generated once and kept under
 * the data directory, so a restart (or a second instance) keeps tokens and cookies valid.
 */
export async function loadKeyMaterial(settings: Settings): Promise<KeyMaterial> {
  return {
    jwks: await loadJwks(settings),
    cookieKeys: settings.cookieKeys ?? (await persisted(settings, 'cookie-keys.json', generateCookieKeys)),
  };
}

async function loadJwks(settings: Settings): Promise<{ keys: JWK[] }> {
  if (settings.jwks) return parseJwks(settings.jwks, 'JWKS');
  if (settings.jwksFile) return parseJwks(await readFile(settings.jwksFile, 'utf8'), 'JWKS_FILE');
  return persisted(settings, 'jwks.json', generateJwks);
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

async function persisted<T>(settings: Settings, file: string, generate: () => Promise<T>): Promise<T> {
  const target = path.join(settings.dataDir, file);
  try {
    return JSON.parse(await readFile(target, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const value = await generate();
  await mkdir(settings.dataDir, { recursive: true });
  // wx: two instances starting at once must not overwrite each other's keys.
  try {
    await writeFile(target, JSON.stringify(value, null, 2), { mode: 0o600, flag: 'wx' });
    return value;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return JSON.parse(await readFile(target, 'utf8')) as T;
  }
}

export async function generateJwks(): Promise<{ keys: JWK[] }> {
  const keys = await Promise.all(
    (['RS256', 'ES256'] as const).map(async (alg) => {
      const { privateKey } = await generateKeyPair(alg, { extractable: true });
      const jwk = await exportJWK(privateKey);
      return { ...jwk, alg, use: 'sig', kid: await calculateJwkThumbprint(jwk) };
    }),
  );
  return { keys };
}

export async function generateCookieKeys(): Promise<string[]> {
  return [randomBytes(32).toString('base64url')];
}
