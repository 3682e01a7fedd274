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
 * A replayed refresh token cost its family. Recorded by the adapter that detected it,
 * wherever that was (a consumed token presented again, a lost consume race, a superseded
 * successor turning up), so there is one pair per detecting request.
 */
export async function recordReuse(events: SecurityEvents, ctx: KoaContextWithOIDC, token: RefreshTokenIds, detail?: Record<string, unknown>): Promise<void> {
  await recordAll(events, [
    ['refresh_token.reuse_detected', refreshEventInput(ctx, token, detail)],
    ['refresh_token.family_revoked', refreshEventInput(ctx, token, { reason: 'reuse' })],
  ]);
}

/**
 * A client revoking its refresh token at the revocation endpoint ends the family; that
 * is a security event too. Reuse is recorded where it is detected (recordReuse); other
 * revocations (logout, admin) belong to whoever triggers them.
 */
export function auditRefreshFamilies(provider: Provider, events: SecurityEvents): void {
  provider.on('grant.revoked', (ctx: KoaContextWithOIDC, grantId: string) => {
    const token = ctx.oidc.entities.RefreshToken;
    if (!token || ctx.oidc.route !== 'revocation') return;
    const ids = { accountId: token.accountId, clientId: token.clientId, grantId };
    void recordAll(events, [['refresh_token.family_revoked', refreshEventInput(ctx, ids, { reason: 'revocation' })]]);
  });
}

type Entry = readonly [Parameters<SecurityEvents['record']>[0], SecurityEventInput];

/** An audit record that cannot be stored is logged, never thrown into the request: the
 * revocation it describes has already happened. */
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
