import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

import type { Readiness } from './http/health.js';
import type { Logger } from './observability/logger.js';

/** How often idle keep-alive connections are closed while draining. */
const IDLE_SWEEP_MS = 100;

export interface DrainOptions {
  server: Server;
  readiness: Readiness;
  logger: Logger;
  /** In-flight requests get this long; then their connections are cut. */
  graceMs: number;
  /** Closes what the server used (metrics listener, database), after the last request. */
  release(): Promise<void>;
}

/**
 * Graceful shutdown on SIGTERM (and SIGINT): readiness turns 503 at once, no new
 * connections are accepted, requests in flight finish within the grace period, then the
 * database closes and the process exits 0.
 */
export function drainOnSignals(options: DrainOptions): void {
  let draining: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    draining ??= drain(options, signal).then(
      () => process.exit(0),
      (err: unknown) => {
        options.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

async function drain({ server, readiness, logger, graceMs, release }: DrainOptions, signal: NodeJS.Signals): Promise<void> {
  logger.info({ signal, graceMs }, 'shutting down: draining requests in flight');
  readiness.drain();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Keep-alive connections between requests hold close() open: close them as they go idle.
  const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
  server.closeIdleConnections();
  const finished = await Promise.race([closed.then(() => true), sleep(graceMs).then(() => false)]);
  clearInterval(sweep);
  if (!finished) {
    logger.warn({ graceMs }, 'shutdown: grace period over, closing remaining connections');
    server.closeAllConnections();
    await closed;
  }
  await release();
  logger.info('shutdown complete');
  logger.flush();
}
