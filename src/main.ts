// First: sizes the thread pool before any module starts work on it.
import './config/thread-pool.js';

import { createServer as httpServer } from 'node:http';
import path from 'node:path';

import { loadKeySources } from './config/keys.js';
import { loadSettings, SettingsError } from './config/settings.js';
import { connectDatabase } from './db/connection.js';
import { openMongo } from './db/mongo-server.js';
import { seedDevelopment } from './development/seed.js';
import { listen, PortUnavailableError } from './http/listen.js';
import { createLogger } from './observability/logger.js';
import { startMetricsServer, type MetricsServer } from './observability/metrics-server.js';
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

  let metricsServer: MetricsServer | undefined;
  const release = async () => {
    keyRing.stop();
    await mailer.close();
    await metricsServer?.close();
    await connection.close();
    await mongo.stop();
  };
  const server = httpServer(app.callback());
  try {
    if (operations.metrics) metricsServer = await startMetricsServer(metrics, operations.metrics);
    await listen(server, settings.port, 'PORT');
  } catch (err) {
    // Nothing was served yet: give back the database (and an embedded mongod) before exiting.
    await release().catch((cause: unknown) => logger.error({ err: cause }, 'releasing after a failed start failed'));
    throw err;
  }
  drainOnSignals({ server, readiness, logger, graceMs: operations.shutdownGraceMs, release });
  if (metricsServer?.movedFrom) {
    logger.warn(`metrics port ${metricsServer.movedFrom} is in use, metrics on port ${metricsServer.port} instead (METRICS_PORT sets one; 0 turns metrics off)`);
  }
  const metricsNote = metricsServer ? `metrics on port ${metricsServer.port}` : 'metrics off (METRICS_PORT=0)';
  logger.info(`OpenID Provider ${settings.issuer} listening on port ${settings.port} (MongoDB: ${mongo.kind}); ${metricsNote}`);
  logger.info(`password hashing: argon2id via ${argon2id.name}`);
  logger.info(`discovery: ${settings.issuer}/.well-known/openid-configuration`);
  logger.flush();
  // Plain text on purpose: a newcomer reads it; it is never printed in production.
  if (!settings.production) console.log(await seedDevelopment(store, accounts, settings));
}

main().catch((err: unknown) => {
  // Configuration mistakes and taken ports get one clear line; anything else keeps its stack for the operator.
  if (err instanceof SettingsError) console.error(`configuration error: ${err.message}`);
  else if (err instanceof PortUnavailableError) console.error(`cannot start: ${err.message}`);
  else console.error(err);
  process.exit(1);
});
