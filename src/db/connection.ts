import { setTimeout as sleep } from 'node:timers/promises';
import mongoose, { type Connection } from 'mongoose';

import { defaults } from '../../config/defaults.js';
import { isDatabaseUnavailable } from './unavailable.js';

/** How long startup keeps trying to reach MongoDB (a database container may start later). */
const STARTUP_TIMEOUT_MS = 30_000;
const STARTUP_RETRY_MS = 500;

/**
 * A dedicated connection (not mongoose's global one) so two servers in one process, as in
 * tests, never share state. Collections are created on first write, not by `create`.
 *
 * Once up, every operation fails within about `timeoutMs` when MongoDB is down or
 * partitioned, and nothing queues behind a lost
 * connection (`bufferCommands: false`): requests answer 503 at once (src/db/unavailable.ts)
 * and the driver reconnects by itself when the database returns.
 */
export async function connectDatabase(uri: string, timeoutMs: number = defaults.operations.databaseTimeoutMs): Promise<Connection> {
  const options = {
    autoCreate: false,
    autoIndex: false,
    bufferCommands: false,
    // The driver mongoose bundles (7.8) has no operation timeout (timeoutMS is ignored), so
    // each stage is bounded: finding a server, opening a connection, waiting for a pooled
    // one, and waiting for a reply on a connection that went silent (partition).
    serverSelectionTimeoutMS: timeoutMs,
    connectTimeoutMS: timeoutMs,
    waitQueueTimeoutMS: timeoutMs,
    socketTimeoutMS: timeoutMs,
    // Command latency and failures for the metrics (src/observability/instrument.ts).
    monitorCommands: true,
  };
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    const connection = mongoose.createConnection();
    try {
      await connection.openUri(uri, options);
      return connection;
    } catch (err) {
      // Closing a connection that never opened cannot fail in a way worth reporting.
      await connection.close().catch(() => undefined);
      if (!isDatabaseUnavailable(err) || Date.now() >= deadline) throw err;
      await sleep(STARTUP_RETRY_MS);
    }
  }
}
