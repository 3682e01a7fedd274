import type { Connection } from 'mongoose';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

const TOKEN_TYPES = ['access_token', 'refresh_token', 'id_token'] as const;

/** Feeds the series and the log from oidc-provider's own events (docs/events.md). */
export function instrumentProvider(provider: Provider, metrics: Metrics, logger: Logger): void {
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    // Only grant types oidc-provider accepted get here: a bounded label.
    const grantType = String(ctx.oidc.params?.grant_type);
    const body = ctx.body as Record<string, unknown> | undefined;
    for (const tokenType of TOKEN_TYPES) {
      if (body?.[tokenType]) metrics.tokenIssued(grantType, tokenType);
    }
  });
  provider.on('refresh_token.consumed', () => metrics.refreshRotations.inc());
  provider.on('backchannel.success', () => metrics.backchannelLogouts.inc({ outcome: 'sent' }));
  provider.on('backchannel.error', () => metrics.backchannelLogouts.inc({ outcome: 'failed' }));
  // The request line carries status 500; this keeps the error for the operator (no request data).
  provider.on('server_error', (ctx: KoaContextWithOIDC, err: Error) => {
    ctx.state.error = err;
  });
  provider.on('backchannel.error', (_ctx: KoaContextWithOIDC, err: Error, client: { clientId: string }) => {
    logger.warn({ clientId: client.clientId, err: err.message }, 'back-channel logout failed');
  });
}

/** MongoDB command latency and failures (driver command monitoring), and heartbeats that
 * fail while the database is unreachable. Needs `monitorCommands: true` (src/db/connection.ts). */
export function instrumentDatabase(connection: Connection, metrics: Metrics): void {
  const client = connection.getClient();
  client.on('commandSucceeded', (event) => {
    metrics.databaseDuration.observe({ command: event.commandName, outcome: 'ok' }, event.duration / 1000);
  });
  client.on('commandFailed', (event) => {
    metrics.databaseDuration.observe({ command: event.commandName, outcome: 'error' }, event.duration / 1000);
  });
  client.on('serverHeartbeatFailed', () => metrics.databaseHeartbeatFailures.inc());
}
