import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';

import type { ProviderSource } from '../oidc/provider-host.js';
import { errors, type InteractionResults } from 'oidc-provider';
import { z } from 'zod';

import { formBody } from '../http/form.js';
import { renderPage } from '../http/render.js';
import { emailField, nameField, passwordField, usernameField } from '../oidc/account-fields.js';
import { originOf, SELF_SERVICE_PATHS, type SelfServiceDeps } from '../registration/deps.js';
import { signUp, type SignUpField } from '../registration/sign-up.js';
import { signInSecond } from '../revocation/cutoff.js';
import { renderInteractionErrors } from './routes.js';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;
type Values = Partial<Record<'username' | 'email' | 'name', string>>;

/** Plain strings only (a repeated field arrives as an array and is refused), each with its message. */
const signUpForm = z.object({
  username: usernameField,
  email: emailField,
  password: passwordField,
  name: z.union([nameField, z.literal('')]).optional(),
});
/** A Map: the field name comes from the request's shape, and must never find an inherited member. */
const FIELD_MESSAGES = new Map<string, string>([
  ['username', 'Choose a username of letters, digits and . @ + - _ (at most 128 characters).'],
  ['email', 'Enter a valid email address.'],
  ['password', 'Enter a password.'],
  ['name', 'Your name may have at most 256 characters.'],
]);
const CLOSED = 'New accounts cannot be created here. Ask the administrator for an account.';

/** The links the login page offers, when those features are on. */
export function loginLinks(deps: Pick<SelfServiceDeps, 'settings'>, uid: string): Record<string, string | undefined> {
  return {
    signupUrl: deps.settings.registration === 'open' ? `/interaction/${uid}/signup` : undefined,
    forgotUrl: deps.settings.passwordReset ? `${SELF_SERVICE_PATHS.forgotPassword}?interaction=${encodeURIComponent(uid)}` : undefined,
  };
}

/**
 * "Create account" in the middle of an app's authorization request: the page belongs to
 * the login interaction (its cookie binds the form to this browser, so no separate CSRF
 * token), and a new account finishes that login, so consent and the app come next.
 */
export function signUpRoutes(providers: ProviderSource, deps: SelfServiceDeps): Router {
  const router = new Router({ prefix: '/interaction' });
  router.use(renderInteractionErrors);

  router.get('/:uid/signup', async (ctx) => {
    const { provider } = providers;
    const details = await loginInteraction(provider, ctx);
    return showSignUp(ctx, details, await clientName(provider, details));
  });

  router.post('/:uid/signup', formBody, async (ctx) => {
    const { provider } = providers;
    const details = await loginInteraction(provider, ctx);
    const name = await clientName(provider, details);
    if (deps.settings.registration !== 'open') return showSignUp(ctx, details, name);
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    const values = echo(body);
    const input = signUpForm.safeParse(body);
    if (!input.success) {
      const issued = String(input.error.issues[0]!.path[0] ?? 'username');
      const field = FIELD_MESSAGES.has(issued) ? issued : 'username';
      return showSignUp(ctx, details, name, values, { [field]: FIELD_MESSAGES.get(field)! }, 400);
    }
    const { username, email, password, name: fullName } = input.data;
    const outcome = await signUp(deps, { username, email, password, name: fullName || undefined }, originOf(ctx));
    if (!outcome.ok) return showSignUp(ctx, details, name, values, errorFor(outcome.field, outcome.message), outcome.status);

    const result: InteractionResults = {
      login: { accountId: outcome.account._id, amr: ['pwd'], ts: await signInSecond(outcome.account) },
    };
    const finish = { mergeWithLastSubmission: false };
    if (outcome.verificationSent) return provider.interactionFinished(ctx.req, ctx.res, result, finish);
    // The account exists and is signed in; only the mail failed. Say so before moving on.
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, finish);
    ctx.status = 202;
    return renderPage(ctx, 'notice', {
      title: 'Account created',
      heading: 'Your account was created',
      message: `We could not send the confirmation mail to ${outcome.account.email} just now. You can ask for it again when an app needs a confirmed address.`,
      link: returnTo, linkLabel: `Continue to ${name}`,
    });
  });

  async function showSignUp(ctx: Context, details: Details, client: string, values: Values = {}, fieldErrors: Partial<Record<SignUpField, string>> = {}, status = 200) {
    const closed = deps.settings.registration !== 'open';
    ctx.status = closed ? 403 : status;
    return renderPage(ctx, 'signup', {
      title: 'Create account', clientName: client, closed: closed ? CLOSED : undefined,
      values, errors: fieldErrors, action: `/interaction/${details.uid}/signup`, signInUrl: `/interaction/${details.uid}`,
    });
  }

  return router;
}

export async function clientName(provider: Provider, details: Details): Promise<string> {
  const client = await provider.Client.find(String(details.params.client_id));
  return client?.clientName ?? String(details.params.client_id);
}

async function loginInteraction(provider: Provider, ctx: Context): Promise<Details> {
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.prompt.name !== 'login') throw new errors.InvalidRequest('this interaction does not expect a sign-in');
  return details;
}

/** What the person typed, shown again (never the password). */
function echo(body: Record<string, unknown>): Values {
  const text = (v: unknown) => (typeof v === 'string' ? v.slice(0, 320) : undefined);
  return { username: text(body.username), email: text(body.email), name: text(body.name) };
}

function errorFor(field: SignUpField, message: string): Partial<Record<SignUpField, string>> {
  return { [field]: message };
}
