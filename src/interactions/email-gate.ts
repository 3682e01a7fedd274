import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';

import type { ProviderSource } from '../oidc/provider-host.js';
import { errors } from 'oidc-provider';

import { formBody } from '../http/form.js';
import { renderPage } from '../http/render.js';
import { originOf, type SelfServiceDeps } from '../registration/deps.js';
import { hasVerifiedEmail, resendVerification, type ResendOutcome } from '../registration/email-verification.js';
import { EMAIL_NOT_VERIFIED } from '../registration/verified-email-policy.js';
import { clientName } from './signup.js';
import { renderInteractionErrors } from './routes.js';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

const RESENT: Record<ResendOutcome, { status: number; notice: string }> = {
  sent: { status: 200, notice: 'We sent a new link. Check your inbox.' },
  mail_failed: { status: 503, notice: 'We could not send the mail just now. Try again in a moment.' },
  rate_limited: { status: 429, notice: 'We already sent several links. Wait a few minutes before asking again.' },
  already_verified: { status: 200, notice: 'Your email address is already confirmed. Continue.' },
  no_email: { status: 200, notice: 'Your account has no email address. Ask the administrator to add one.' },
};

/**
 * For apps that require a verified email (client metadata require_verified_email), the
 * consent interaction first asks an unverified user to follow the mailed link. The policy
 * check (src/registration/verified-email-policy.ts) decides that the interaction happens;
 * this page, and the refusal of a consent posted around it, read the account live, so a
 * link followed in another tab counts at once.
 */
export class EmailGate {
  /** The provider of the current key set, read per request (src/oidc/provider-host.ts). */
  readonly #providers: ProviderSource;
  readonly #deps: SelfServiceDeps;

  constructor(providers: ProviderSource, deps: SelfServiceDeps) {
    this.#providers = providers;
    this.#deps = deps;
  }

  /** Shows the "confirm your email" page instead of consent when needed; true if it did. */
  async beforeConsent(ctx: Context, details: Details): Promise<boolean> {
    const accountId = await this.#pending(details);
    if (!accountId) return false;
    // Links mailed earlier (at sign-up) lead back to this interaction once followed.
    await this.#deps.tokens.attachInteraction(accountId, 'verify_email', details.uid);
    await this.#show(ctx, details, accountId, ctx.method === 'POST' ? 403 : 200);
    return true;
  }

  routes(): Router {
    const router = new Router({ prefix: '/interaction' });
    router.use(renderInteractionErrors);
    router.post('/:uid/verify-email/resend', formBody, async (ctx) => {
      const details = await this.#providers.provider.interactionDetails(ctx.req, ctx.res);
      const accountId = await this.#pending(details);
      if (!accountId) throw new errors.InvalidRequest('this interaction does not wait for an email confirmation');
      const { status, notice } = RESENT[await resendVerification(this.#deps, accountId, details.uid, originOf(ctx))];
      return this.#show(ctx, details, accountId, status, notice);
    });
    return router;
  }

  /** The account that must still verify in this interaction, if any. */
  async #pending(details: Details): Promise<string | undefined> {
    const accountId = details.session?.accountId;
    if (details.prompt.name !== 'consent' || !details.prompt.reasons.includes(EMAIL_NOT_VERIFIED) || !accountId) return undefined;
    return (await hasVerifiedEmail(this.#deps, accountId)) ? undefined : accountId;
  }

  async #show(ctx: Context, details: Details, accountId: string, status: number, notice?: string): Promise<void> {
    const account = await this.#deps.users.find(accountId);
    ctx.status = status;
    return renderPage(ctx, 'verify-email-required', {
      title: 'Confirm your email address', clientName: await clientName(this.#providers.provider, details),
      email: account?.email, notice,
      resendAction: `/interaction/${details.uid}/verify-email/resend`,
      continueUrl: `/interaction/${details.uid}`, abortUrl: `/interaction/${details.uid}/abort`,
    });
  }
}
