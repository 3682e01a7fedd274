import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import { errors, type InteractionResults, type PromptDetail, type UnknownObject } from 'oidc-provider';
import { z } from 'zod';

import { scopeDescriptions } from '../../config/claims.js';
import { defaults } from '../../config/defaults.js';
import { asDatabaseUnavailable } from '../db/unavailable.js';
import { renderPage } from '../http/render.js';
import type { Accounts } from '../oidc/accounts.js';
import type { ProviderSource } from '../oidc/provider-host.js';
import type { SignInOutcome } from '../observability/metrics.js';
import type { SecurityEvents } from '../security/events.js';
import { checkCredentials } from '../security/credential-check.js';
import { lockedOutMessage } from '../security/lockout-message.js';
import type { LoginThrottle } from '../security/login-throttle.js';
import type { AccountRecord } from '../db/models/account.js';
import { signInMethods } from '../mfa/acr.js';
import { approveConsent } from './consent.js';

const FAILED_LOGIN = 'Invalid username or password.';
const BUSY = 'We are handling a lot of sign-ins right now. Please try again in a moment.';

/** Only plain strings: `login[$ne]=x` or `{"login":{"$gt":""}}` fails here, never reaches MongoDB. */
const loginForm = z.object({
  login: z.string().trim().min(1).max(128),
  password: z.string().min(1).max(1024),
});

/** What sign-up, reset and email verification (src/interactions/signup.ts, email-gate.ts) add here. */
export interface InteractionHooks {
  /** Extra links on the login page ("Create account", "Forgot password?"). */
  loginLinks(uid: string): Record<string, string | undefined>;
  /** Shows a page that must come before consent instead of it; true if it did. */
  beforeConsent(ctx: Context, details: Awaited<ReturnType<Provider['interactionDetails']>>): Promise<boolean>;
  /** A registered API's name and its scopes in words, for the consent page. */
  describeApi(indicator: string, scopes: readonly string[]): Promise<{ name: string; scopes: string[] }>;
  /** More to show on the login page ("Continue with …" buttons). */
  loginOptions?(uid: string): Promise<Record<string, unknown>>;
  /** Told the outcome of every password sign-in attempt (the sign-in metrics). */
  observeSignIn?(outcome: SignInOutcome): void;
  /** Instead of the login form: a step that needs no password (a step-up); true if it took over. */
  beforeLogin?(ctx: Context, details: Awaited<ReturnType<Provider['interactionDetails']>>): Promise<boolean>;
  /** A passkey button on the login page: where its options come from and where it posts. */
  passkeyLogin?(uid: string): { optionsUrl: string; action: string };
  /** After a correct password: a second step instead of finishing; true if it took over. */
  afterPassword?(ctx: Context, details: Awaited<ReturnType<Provider['interactionDetails']>>, account: AccountRecord): Promise<boolean>;
}

/** The login and consent pages that oidc-provider sends users to. */
export function interactionRoutes(
  providers: ProviderSource, accounts: Accounts, throttle: LoginThrottle, events: SecurityEvents, hooks: InteractionHooks,
): Router {
  const router = new Router({ prefix: '/interaction' });
  const observeSignIn = (outcome: SignInOutcome) => hooks.observeSignIn?.(outcome);
  const form = bodyParser({ enableTypes: ['form'], formLimit: `${defaults.limits.bodyBytes}b`, encoding: 'utf-8' });

  router.use(renderInteractionErrors);

  // Each request works with one provider instance throughout (it is replaced when keys change).
  router.get('/:uid', async (ctx) => {
    const { provider } = providers;
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const { uid, prompt, params } = details;
    const client = await provider.Client.find(String(params.client_id));
    const clientName = client?.clientName ?? String(params.client_id);
    if (prompt.name === 'login') return (await hooks.beforeLogin?.(ctx, details)) || showLogin(ctx, uid, clientName);
    if (await hooks.beforeConsent(ctx, details)) return;
    return renderPage(ctx, 'consent', await consentView(uid, clientName, client?.clientUri, prompt, hooks.describeApi));
  });

  router.post('/:uid/login', form, async (ctx) => {
    const { provider } = providers;
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== 'login') throw new errors.InvalidRequest('this interaction does not expect a login');
    // The form again, with a message. Only then is the client's name looked up: a sign-in
    // that succeeds never needs it.
    const again = async (error: string, status: number, login?: string, retryAfterSeconds?: number) => {
      if (retryAfterSeconds !== undefined) ctx.set('Retry-After', String(retryAfterSeconds));
      return showLogin(ctx, details.uid, await clientNameOf(provider, details.params), error, status, login);
    };
    const input = loginForm.safeParse(ctx.request.body);
    if (!input.success) {
      observeSignIn('failed');
      return again(FAILED_LOGIN, 400);
    }

    const { login, password } = input.data;
    const check = await checkCredentials({ accounts, throttle, events }, login, password, { ip: ctx.ip, userAgent: ctx.get('user-agent') });
    if (check.outcome === 'locked' || check.outcome === 'busy') {
      // Same page and message for every username, existing or not.
      if (check.outcome === 'locked') observeSignIn('locked_out');
      return check.outcome === 'locked'
        ? again(lockedOutMessage(check.retryAfterSeconds), 429, login, check.retryAfterSeconds)
        : again(BUSY, 503, login, check.retryAfterSeconds);
    }
    if (check.outcome === 'invalid') {
      observeSignIn('failed');
      return again(FAILED_LOGIN, 401, login);
    }
    const { account } = check;
    observeSignIn('succeeded');
    if (await hooks.afterPassword?.(ctx, details, account)) return;

    const result: InteractionResults = { login: { accountId: account._id, ...signInMethods(), ts: check.signedInAt } };
    return provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  });

  router.post('/:uid/confirm', form, async (ctx) => {
    const { provider } = providers;
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== 'consent') throw new errors.InvalidRequest('this interaction does not expect consent');
    if (await hooks.beforeConsent(ctx, details)) return;
    const consent = await approveConsent(provider, details);
    return provider.interactionFinished(ctx.req, ctx.res, { consent }, { mergeWithLastSubmission: true });
  });

  router.post('/:uid/abort', form, async (ctx) => {
    const { provider } = providers;
    await provider.interactionDetails(ctx.req, ctx.res);
    const result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
    return provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  });

  async function showLogin(ctx: Context, uid: string, clientName: string, error?: string, status = 200, login?: string) {
    const options = await hooks.loginOptions?.(uid);
    ctx.status = status;
    const passkey = hooks.passkeyLogin?.(uid);
    return renderPage(ctx, 'login', {
      title: 'Sign in', uid, clientName, error, login, ...hooks.loginLinks(uid), ...options,
      action: `/interaction/${uid}/login`, abortUrl: `/interaction/${uid}/abort`,
      passkey: passkey && { kind: 'login', label: 'Sign in with a passkey', ...passkey },
    }, { scripts: passkey !== undefined });
  }

  return router;
}

/** What the pages call the client: its registered name, else its id. */
async function clientNameOf(provider: Provider, params: UnknownObject): Promise<string> {
  const client = await provider.Client.find(String(params.client_id));
  return client?.clientName ?? String(params.client_id);
}

/** Lists only what the user will get: oidc-provider's missing scopes, which our resource
 * catalog has already limited to the user's roles (src/apis/access.ts). */
async function consentView(
  uid: string, clientName: string, clientUri: string | undefined, prompt: PromptDetail, describeApi: InteractionHooks['describeApi'],
) {
  const details = prompt.details as {
    missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]>;
  };
  return {
    title: 'Authorize', uid, clientName, clientUri,
    scopes: details.missingOIDCScope ?? [],
    scopeDescriptions,
    claims: details.missingOIDCClaims ?? [],
    resources: await Promise.all(Object.entries(details.missingResourceScopes ?? {})
      .filter(([, scopes]) => scopes.length > 0)
      .map(([indicator, scopes]) => describeApi(indicator, scopes))),
    action: `/interaction/${uid}/confirm`,
    denyAction: `/interaction/${uid}/abort`,
  };
}

/** An expired or foreign interaction shows our error page, not a stack trace. */
export async function renderInteractionErrors(ctx: Context, next: Next): Promise<void> {
  ctx.set('Cache-Control', 'no-store');
  try {
    await next();
  } catch (caught) {
    // A database outage gets the same page, as oidc-provider's `temporarily_unavailable` (503).
    const err = asDatabaseUnavailable(caught);
    if (!(err instanceof errors.OIDCProviderError)) throw err;
    ctx.status = err.statusCode;
    await renderPage(ctx, 'error', { title: 'Something went wrong', error: err.error, errorDescription: err.error_description });
  }
}
