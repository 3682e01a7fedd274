import { interactionPolicy, type Client, type KoaContextWithOIDC } from 'oidc-provider';

import type { Settings } from '../config/settings.js';
import { asksForMfa, MFA_ACR } from './acr.js';

/** Client metadata: users of this app always complete a second step (and set one up first). */
export const REQUIRE_MFA = 'require_mfa';

/** The login prompt's reason when the session lacks the second step this request demands. */
export const MFA_REQUIRED = 'mfa_required';

export function validateRequireMfa(value: unknown): void {
  if (value !== undefined && typeof value !== 'boolean') throw new TypeError(`${REQUIRE_MFA} must be a boolean`);
}

/** Whether this authorization request demands a second step, whatever the account has. */
export function mfaDemanded(settings: Pick<Settings, 'mfa'>, client: Client | undefined, acrValues: unknown): boolean {
  const metadata = client?.metadata() as Record<string, unknown> | undefined;
  return settings.mfa === 'required' || metadata?.[REQUIRE_MFA] === true || asksForMfa(acrValues);
}

/**
 * A login-prompt check: a session signed in with a password only is asked for a second step
 * when the request demands one (`acr_values`, the client's `require_mfa`, MFA=required), the
 * step-up that Auth0 and Keycloak offer. A fresh sign-in asks for it after the password.
 */
export function stepUpCheck(settings: Pick<Settings, 'mfa'>): interactionPolicy.Check {
  return new interactionPolicy.Check(MFA_REQUIRED, 'a second step is required', 'interaction_required', (ctx: KoaContextWithOIDC) => {
    const session = ctx.oidc.session;
    if (!session?.accountId || session.acr === MFA_ACR) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    return mfaDemanded(settings, ctx.oidc.client, ctx.oidc.params?.acr_values)
      ? interactionPolicy.Check.REQUEST_PROMPT
      : interactionPolicy.Check.NO_NEED_TO_PROMPT;
  });
}
