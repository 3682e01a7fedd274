import type { TestProject } from 'vitest/node';
import { startMongo } from '../../src/db/embedded.js';

declare module 'vitest' {
  export interface ProvidedContext {
    mongoUri: string;
  }
}

/**
 * Vitest globalSetup: one MongoDB wire server for the whole run (MONGODB_URI, else
 * mongodb-memory-server, else jongodb); tests read its URI with `inject('mongoUri')`.
 */
export default async function setup({ provide }: Pick<TestProject, 'provide'>): Promise<() => Promise<void>> {
  // startMongo's own notes (fallback reason, in-memory warning) are noise in test output:
  // the one summary line below says which server runs.
  const server = await startMongo(process.env.MONGODB_URI, { dbName: 'oidc_test', log: () => {} });
  console.log(`[test] MongoDB wire server: ${server.kind} (${server.kind === 'env' ? 'MONGODB_URI' : server.uri})`);
  provide('mongoUri', server.uri);
  return () => server.stop();
}
