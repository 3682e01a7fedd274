import { randomBytes } from 'node:crypto';
import type { ClientMetadata, Configuration, Grant, KoaContextWithOIDC } from 'oidc-provider';

import { defaults } from '../../config/defaults.js';
import type { Settings } from '../config/settings.js';

const { clientId: ACCOUNT_CENTER } = defaults.account;

/** The account API's resource indicator (the `aud` of its JWT access tokens). */
export function accountAudience(issuer: string): string {
  return `${issuer}/account`;
}

export function accountCenterRedirect(issuer: string): string {
  return `${issuer}/account/callback`;
}

/** Our own apps: the account center, and the clients the operator lists in ACCOUNT_API_CLIENTS. */
export function isFirstParty(settings: Settings, clientId: string): boolean {
  return clientId === ACCOUNT_CENTER || settings.account.apiClients.includes(clientId);
}

/**
 * The account center as a confidential client of this server. It redeems its codes in
 * process (src/account/sign-in.ts), never at the token endpoint, so its secret is random
 * and known to no one: nobody can use this client's codes or get tokens as it.
 */
export function accountCenterClient(settings: Settings): ClientMetadata {
  return {
    client_id: ACCOUNT_CENTER,
    client_secret: randomBytes(32).toString('base64url'),
    client_name: 'Account center',
    client_uri: `${settings.issuer}/account`,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [accountCenterRedirect(settings.issuer)],
    post_logout_redirect_uris: [`${settings.issuer}/account`],
    token_endpoint_auth_method: 'client_secret_basic',
  };
}

/**
 * oidc-provider's loadExistingGrant: the grant in the session as usual; for a first-party
 * client without one, a grant of what it asked for, so the user sees no consent screen
 * for our own apps. Third-party apps still get the consent page.
 */
export function loadExistingGrant(settings: Settings): NonNullable<Configuration['loadExistingGrant']> {
  return async (ctx: KoaContextWithOIDC): Promise<Grant | undefined> => {
    const { oidc } = ctx;
    const clientId = oidc.client!.clientId;
    const existingId = oidc.result?.consent?.grantId ?? oidc.session!.grantIdFor(clientId);
    if (existingId) return oidc.provider.Grant.find(existingId);
    if (!isFirstParty(settings, clientId) || !oidc.session?.accountId) return undefined;

    const grant = new oidc.provider.Grant({ accountId: oidc.session.accountId, clientId });
    const requested = new Set(String(oidc.params?.scope ?? '').split(' ').filter(Boolean));
    grant.addOIDCScope([...requested].join(' '));
    for (const [indicator, server] of Object.entries(oidc.resourceServers ?? {})) {
      const allowed = (server.scope ?? '').split(' ').filter((scope) => requested.has(scope));
      if (allowed.length > 0) grant.addResourceScope(indicator, allowed.join(' '));
    }
    await grant.save();
    return grant;
  };
}
