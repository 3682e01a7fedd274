import type Router from '@koa/router';

import { defaults } from '../../config/defaults.js';
import { REGISTRATION_POLICIES } from '../protocols/registration.js';
import { auditOf, type AdminDeps } from './deps.js';
import { AdminError, notFound, parse, reply } from './http.js';
import { initialAccessTokenRequest, initialAccessTokenRevocation } from './schemas.js';

/**
 * Initial access tokens (RFC 7591 §3): what a developer presents to register a client
 * dynamically. Each has an expiry and a number of registrations it allows.
 */
export function initialAccessTokenRoutes(router: Router, deps: AdminDeps): void {
  const tokens = () => deps.store.collection('InitialAccessToken');

  router.post('/initial-access-tokens', async (ctx) => {
    if (!deps.settings.protocols.dynamicRegistration) {
      throw new AdminError(409, 'registration_disabled', 'dynamic client registration is off (DYNAMIC_REGISTRATION=on turns it on)');
    }
    const input = parse(initialAccessTokenRequest, ctx.request.body ?? {});
    const expiresIn = input.expires_in ?? defaults.protocols.initialAccessTokenTtl;
    const token = new deps.providers.provider.InitialAccessToken({ expiresIn, policies: [...REGISTRATION_POLICIES] });
    const value = await token.save();
    // Stored beside oidc-provider's record; a token whose count was never written allows nothing.
    await tokens().updateOne({ _id: token.jti }, { $set: { usesLeft: input.max_uses } });
    const { actor, ...origin } = auditOf(ctx);
    await deps.events.record('initial_access_token.created', { ...origin, detail: { max_uses: input.max_uses, expires_in: expiresIn, actor } });
    reply(ctx, 201, {
      initial_access_token: value,
      expires_at: new Date((token.exp ?? 0) * 1000).toISOString(),
      max_uses: input.max_uses,
    });
  });

  // The token travels in the body, never in a URL that proxies and access logs keep.
  router.post('/initial-access-tokens/revoke', async (ctx) => {
    const { initial_access_token: id } = parse(initialAccessTokenRevocation, ctx.request.body);
    const { deletedCount } = await tokens().deleteOne({ _id: id });
    if (deletedCount === 0) throw notFound('initial access token');
    const { actor, ...origin } = auditOf(ctx);
    await deps.events.record('initial_access_token.revoked', { ...origin, detail: { actor } });
    reply(ctx, 200, { revoked: true });
  });
}
