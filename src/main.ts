// First: sizes the thread pool before any module starts work on it.
import './config/thread-pool.js';

import { once } from 'node:events';
import path from 'node:path';

import { loadKeySources } from './config/keys.js';
import { loadSettings, SettingsError } from './config/settings.js';
import { connectDatabase } from './db/connection.js';
import { openMongo } from './db/mongo-server.js';
import { seedDevelopment } from './development/seed.js';
import { createServer } from './server.js';

async function main(): Promise<void> {
  const settings = loadSettings();
  const mongo = await openMongo(settings.mongodbUri, {
    dataDir: path.join(settings.dataDir),
    dbName: 'oidc',
    log: (msg: string) => console.warn(msg),
  });
  const connection = await connectDatabase(mongo.uri);
  const { app, store, accounts, keyRing } = await createServer(settings, await loadKeySources(settings), connection);

  const server = app.listen(settings.port);
  await once(server, 'listening');
  console.log(`OpenID Provider ${settings.issuer} listening on port ${settings.port} (MongoDB: ${mongo.kind})`);
  console.log(`  discovery: ${settings.issuer}/.well-known/openid-configuration`);
  if (!settings.production) console.log(await seedDevelopment(store, accounts, settings));

  const shutdown = async () => {
    server.close();
    server.closeAllConnections();
    keyRing.stop();
    await connection.close();
    await mongo.stop();
    process.exit(0);
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  // Configuration mistakes get one clear line; anything else keeps its stack for the operator.
  console.error(err instanceof SettingsError ? `configuration error: ${err.message}` : err);
  process.exit(1);
});
