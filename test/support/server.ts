import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

import { loadKeySources } from '../../src/config/keys.js';
import { loadSettings, type Settings } from '../../src/config/settings.js';
import { connectDatabase } from '../../src/db/connection.js';
import { createServer, type ServerParts } from '../../src/server.js';

/** Settings every test server uses unless a test overrides them. argon2id's cost is lowered
 * (still memory-hard, below the production floor NODE_ENV=test allows) so suites that create
 * many users stay quick. */
export const TEST_ENV = {
  NODE_ENV: 'test', PASSWORD_ARGON2_MEMORY_KIB: '1024', PASSWORD_ARGON2_ITERATIONS: '1', METRICS_PORT: '0',
} as const;

export interface TestServer extends ServerParts {
  issuer: string;
  settings: Settings;
  mongoUri: string;
  dataDir: string;
  close(): Promise<void>;
}

/** A fresh database name per suite keeps suites independent on one wire server. */
export function freshDatabaseUri(label: string): string {
  const uri = new URL(inject('mongoUri'));
  uri.pathname = `/t_${label.replace(/\W/g, '_')}_${randomBytes(3).toString('hex')}`;
  return uri.toString();
}

import { freePort } from '../../src/db/embedded.js';

export { freePort };

export interface StartOptions {
  mongoUri?: string;
  dataDir?: string;
  port?: number;
  env?: Record<string, string>;
}

/** Starts the real server in this process on a real port over a real MongoDB. */
export async function startServer(options: StartOptions = {}): Promise<TestServer> {
  const port = options.port ?? (await freePort());
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'oidc-test-')));
  const mongoUri = options.mongoUri ?? freshDatabaseUri('suite');
  const settings = loadSettings({ ...TEST_ENV, PORT: String(port), ISSUER: `http://127.0.0.1:${port}`, DATA_DIR: dataDir, MONGODB_URI: mongoUri, ...options.env });
  const connection = await connectDatabase(mongoUri);
  const parts = await createServer(settings, await loadKeySources(settings), connection).catch(async (err: unknown) => {
    await connection.close();
    throw err;
  });
  const http = parts.app.listen(port, '127.0.0.1');
  await new Promise<void>((resolve) => http.once('listening', resolve));
  return {
    ...parts,
    issuer: settings.issuer,
    settings,
    mongoUri,
    dataDir,
    async close() {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
      parts.keyRing.stop();
      await connection.close();
    },
  };
}
