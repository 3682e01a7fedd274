import { createServer, type Server } from 'node:http';

import { listen, PortUnavailableError } from '../http/listen.js';
import type { Metrics } from './metrics.js';

/** Where the metrics listener goes: METRICS_PORT, or in development the default port unless
 * another process (a second instance on the same host) holds it, then any free port. */
export interface MetricsListener {
  port: number;
  anyPortIfTaken: boolean;
}

export interface MetricsServer {
  port: number;
  /** The configured port was taken and a free one was used instead (development only). */
  movedFrom: number | undefined;
  close(): Promise<void>;
}

/** Prometheus's scrape target on its own port, so the public issuer never exposes it. */
export async function startMetricsServer(metrics: Metrics, where: MetricsListener): Promise<MetricsServer> {
  const server = scrapeTarget(metrics);
  let port: number;
  let movedFrom: number | undefined;
  try {
    port = await listen(server, where.port, 'METRICS_PORT');
  } catch (err) {
    if (!(err instanceof PortUnavailableError && err.code === 'EADDRINUSE' && where.anyPortIfTaken)) throw err;
    movedFrom = where.port;
    port = await listen(server, 0, 'METRICS_PORT');
  }
  return {
    port,
    movedFrom,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

function scrapeTarget(metrics: Metrics): Server {
  return createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    metrics.registry.metrics().then(
      (body) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(body),
      () => res.writeHead(500).end(),
    );
  });
}
