// First: sizes the thread pool before any module starts work on it.
import './config/thread-pool.js';

import { once } from 'node:events';
import path from 'node:path';

import { loadKeySources } from './config/keys.js';
import { loadSettings, SettingsError } from './config/settings.js';
import { connectDatabase } from './db/connection.js';
import { openMongo } from './db/mongo-server.js';
import { seedDevelopment } from './development/seed.js';
import { createLogger } from './observability/logger.js';
import { startMetricsServer } from './observability/metrics-server.js';
import { argon2id } from './security/argon2.js';
import { createServer } from './server.js';
import { drainOnSignals } from './shutdown.js';

async function main(): Promise<void> {
  const settings = loadSettings();
  const { operations } = settings;
  const logger = await createLogger({ level: operations.logLevel, pretty: (process.env.NODE_ENV ?? 'development') === 'development' });
  const mongo = await openMongo(settings.mongodbUri, {
    dataDir: path.join(settings.dataDir),
    dbName: 'oidc',
    log: (msg: string) => logger.warn(msg),
  });
  const connection = await connectDatabase(mongo.uri, operations.databaseTimeoutMs);
  const { app, store, accounts, keyRing, mailer, metrics, readiness } = await createServer(
    settings, await loadKeySources(settings), connection, { logger },
  );

  const metricsServer = await startMetricsServer(metrics, operations.metricsPort);
  const server = app.listen(settings.port);
  await once(server, 'listening');
  drainOnSignals({
    server, readiness, logger, graceMs: operations.shutdownGraceMs,
    async release() {
      keyRing.stop();
      await mailer.close();
      await metricsServer.close();
      await connection.close();
      await mongo.stop();
    },
  });
  logger.info(`OpenID Provider ${settings.issuer} listening on port ${settings.port} (MongoDB: ${mongo.kind}); metrics on port ${metricsServer.port}`);
  logger.info(`password hashing: argon2id via ${argon2id.name}`);
  logger.info(`discovery: ${settings.issuer}/.well-known/openid-configuration`);
  logger.flush();
  // Plain text on purpose: a newcomer reads it; it is never printed in production.
  if (!settings.production) console.log(await seedDevelopment(store, accounts, settings));
}

main().catch((err: unknown) => {
  // Configuration mistakes get one clear line; anything else keeps its stack for the operator.
  console.error(err instanceof SettingsError ? `configuration error: ${err.message}` : err);
  process.exit(1);
});
