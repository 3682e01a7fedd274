import { interactionPolicy, type Client, type KoaContextWithOIDC } from 'oidc-provider';

import type { Accounts } from '../oidc/accounts.js';
import { hasVerifiedEmail } from './email-verification.js';

/** Client metadata: users of this app must have verified their email first. */
export const REQUIRE_VERIFIED_EMAIL = 'require_verified_email';

/** The consent prompt's reason when the user must verify their email before consenting. */
export const EMAIL_NOT_VERIFIED = 'email_not_verified';

export function requiresVerifiedEmail(client: Client | undefined): boolean {
  return (client?.metadata() as Record<string, unknown> | undefined)?.[REQUIRE_VERIFIED_EMAIL] === true;
}

export function validateRequireVerifiedEmail(value: unknown): void {
  if (value !== undefined && typeof value !== 'boolean') throw new TypeError(`${REQUIRE_VERIFIED_EMAIL} must be a boolean`);
}

/**
 * oidc-provider's default prompts plus the login checks other features add (the second
 * step's step-up, src/mfa/policy.ts), and one consent check: for an app that requires a
 * verified email, an unverified user always gets the consent interaction (even with an
 * earlier grant, or after an email change), where our page asks them to verify first.
 * The check reads the account on every authorization, so once verified it passes.
 */
export function interactionPolicyFor(accounts: Accounts, loginChecks: interactionPolicy.Check[] = []): interactionPolicy.DefaultPolicy {
  const policy = interactionPolicy.base();
  for (const check of loginChecks) policy.get('login')!.checks.add(check);
  policy.get('consent')!.checks.add(new interactionPolicy.Check(
    EMAIL_NOT_VERIFIED, 'the client requires a verified email address', 'interaction_required',
    async (ctx: KoaContextWithOIDC) => {
      const accountId = ctx.oidc.session?.accountId;
      if (!accountId || !requiresVerifiedEmail(ctx.oidc.client)) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      return (await hasVerifiedEmail({ accounts }, accountId))
        ? interactionPolicy.Check.NO_NEED_TO_PROMPT
        : interactionPolicy.Check.REQUEST_PROMPT;
    },
  ));
  return policy;
}
