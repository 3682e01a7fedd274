import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

import type { SecurityEventInput, SecurityEvents } from '../security/events.js';

/** The identifiers of a refresh token that an audit record may hold (never its value). */
export interface RefreshTokenIds {
  accountId?: unknown;
  clientId?: unknown;
  grantId?: unknown;
}

/** Who, which client, which family, and where the request came from. */
export function refreshEventInput(ctx: KoaContextWithOIDC, token: RefreshTokenIds, detail?: Record<string, unknown>): SecurityEventInput {
  return {
    accountId: text(token.accountId),
    clientId: text(token.clientId) ?? ctx.oidc.client?.clientId,
    grantId: text(token.grantId),
    ip: ctx.ip,
    userAgent: ctx.get('user-agent') || undefined,
    ...(detail ? { detail } : {}),
  };
}

/**
 * Turns grant revocations that concern a refresh-token family into security events. On
 * the token endpoint with the refresh_token grant the only cause is a replayed (consumed)
 * token, whether oidc-provider saw it consumed or our adapter lost the consume race; at
 * the revocation endpoint it is the client revoking the family. Other revocations (logout,
 * admin) belong to whoever triggers them.
 */
export function auditRefreshFamilies(provider: Provider, events: SecurityEvents): void {
  provider.on('grant.revoked', (ctx: KoaContextWithOIDC, grantId: string) => {
    const token = ctx.oidc.entities.RefreshToken;
    if (!token) return;
    const reuse = ctx.oidc.route === 'token' && ctx.oidc.params?.grant_type === 'refresh_token';
    if (!reuse && ctx.oidc.route !== 'revocation') return;
    const ids = { accountId: token.accountId, clientId: token.clientId, grantId };
    void recordAll(events, [
      ...(reuse ? [['refresh_token.reuse_detected', refreshEventInput(ctx, ids)] as const] : []),
      ['refresh_token.family_revoked', refreshEventInput(ctx, ids, { reason: reuse ? 'reuse' : 'revocation' })] as const,
    ]);
  });
}

type Entry = readonly [Parameters<SecurityEvents['record']>[0], SecurityEventInput];

/** Emitter listeners cannot be awaited: failures are logged, never thrown into the request. */
async function recordAll(events: SecurityEvents, entries: Entry[]): Promise<void> {
  for (const [type, input] of entries) {
    try {
      await events.record(type, input);
    } catch (err) {
      events.logger.error({ type, err: err instanceof Error ? err.message : String(err) }, 'security event not stored');
    }
  }
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
