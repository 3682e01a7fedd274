import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { errors, type InteractionResults } from 'oidc-provider';
import { z } from 'zod';

import type { Settings } from '../config/settings.js';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';

import { accountById, type AccountModel, type AccountRecord } from '../db/models/account.js';
import { dateSignIn } from '../revocation/cutoff.js';
import { formBody } from '../http/form.js';
import { renderPage } from '../http/render.js';
import type { ProviderSource } from '../oidc/provider-host.js';
import { lockedOutMessage } from '../security/lockout-message.js';
import { renderInteractionErrors } from '../interactions/routes.js';
import { signInMethods, type Method } from './acr.js';
import { enrolmentView } from './enrolment-view.js';
import type { FactorChanges } from './factor-changes.js';
import type { Factors } from './factors.js';
import type { Passkeys } from './passkeys.js';
import { mfaDemanded, MFA_REQUIRED } from './policy.js';
import type { PendingSignIns, SecondStepMode } from './pending.js';
import { checkSecondStep, type SecondStepCheckDeps } from './second-step-check.js';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

export interface SecondStepDeps extends SecondStepCheckDeps {
  settings: Settings;
  providers: ProviderSource;
  accounts: AccountModel;
  factors: Factors;
  passkeys: Passkeys;
  pending: PendingSignIns;
  changes: FactorChanges;
}

const WRONG_CODE = 'That code is not right. Try again.';
const CHANGED = 'Your account changed during this sign-in. Sign in again.';
const codeForm = z.object({ code: z.string().trim().max(64).optional(), recovery_code: z.string().trim().max(64).optional() });
/** A WebAuthn answer as @simplewebauthn/browser posts it (JSON in one form field). */
const passkeyForm = z.object({ response: z.string().min(2).max(16 * 1024) });
const PASSKEY_REFUSED = 'That passkey could not sign you in. Try again, or use another way.';

/**
 * The second step of a sign-in: after the password, for an account with an authenticator
 * app (or when the request demands one, with enrolment first), and as a step-up inside a
 * session signed in with a password only. The interaction finishes only here, with
 * `amr` [pwd, otp, mfa] and the multi-factor `acr`.
 */
export class SecondStep {
  readonly #deps: SecondStepDeps;

  constructor(deps: SecondStepDeps) {
    this.#deps = deps;
  }

  /** After a correct password: true when a second step follows (the browser is sent to it). */
  async afterPassword(ctx: Context, details: Details, account: AccountRecord): Promise<boolean> {
    const mode = await this.#modeFor(details, account._id);
    if (!mode) return false;
    await this.#deps.pending.begin(details.uid, account, mode);
    ctx.status = 303;
    ctx.redirect(`/interaction/${details.uid}/second-step`);
    return true;
  }

  /** A login prompt caused only by a missing second step: the signed-in user skips the password. */
  async beforeLogin(ctx: Context, details: Details): Promise<boolean> {
    const accountId = details.session?.accountId;
    const reasons = details.prompt.reasons;
    if (!accountId || reasons.length !== 1 || reasons[0] !== MFA_REQUIRED) return false;
    const account = await accountById(this.#deps.accounts, accountId);
    if (!account || account.disabled) return false;
    return this.afterPassword(ctx, details, account);
  }

  /** The login page's passkey button. */
  passkeyLogin(uid: string): { optionsUrl: string; action: string } {
    return { optionsUrl: `/interaction/${uid}/passkey/options`, action: `/interaction/${uid}/passkey` };
  }

  /** The account's own factor, or enrolment when the request demands a second step. */
  async #modeFor(details: Details, accountId: string): Promise<SecondStepMode | undefined> {
    if (await this.#deps.factors.hasFactor(accountId)) return 'verify';
    const client = await this.#deps.providers.provider.Client.find(String(details.params.client_id));
    return mfaDemanded(this.#deps.settings, client, details.params.acr_values) ? 'enrol' : undefined;
  }

  routes(): Router {
    const router = new Router({ prefix: '/interaction' });
    router.use(renderInteractionErrors);

    router.get('/:uid/second-step', async (ctx) => {
      const { details, pending, account } = await this.#load(ctx);
      if (pending.mode === 'enrol') return this.#showEnrol(ctx, details.uid, account);
      return this.#showVerify(ctx, details.uid, account._id, ctx.query.method === 'recovery');
    });

    router.post('/:uid/second-step', formBody, async (ctx) => {
      const { details, account } = await this.#load(ctx, 'verify');
      const input = codeForm.safeParse(ctx.request.body);
      const recovery = input.success && input.data.recovery_code !== undefined;
      const code = (input.success ? input.data.recovery_code ?? input.data.code : undefined) ?? '';
      const check = await checkSecondStep(this.#deps, account, { kind: recovery ? 'recovery' : 'totp', code }, origin(ctx));
      if (check.outcome === 'locked') return this.#showVerify(ctx, details.uid, account._id, recovery, lockedOutMessage(check.retryAfterSeconds), 429);
      if (check.outcome === 'invalid') return this.#showVerify(ctx, details.uid, account._id, recovery, WRONG_CODE, 401);
      if (check.recoveryCodesLeft === undefined) return this.#finish(ctx, details);
      // A recovery code was used: say how many are left before going on to the app.
      const next = await this.#finish(ctx, details, false);
      if (!next) return;
      return renderPage(ctx, 'notice', {
        title: 'Signed in', heading: 'Signed in with a recovery code',
        message: `You have ${check.recoveryCodesLeft} recovery codes left. Set up your authenticator app again, or make new codes, in your account.`,
        link: next, linkLabel: 'Continue',
      });
    });

    // A passkey alone: it names the account and verified its user, so it is the whole sign-in.
    router.get('/:uid/passkey/options', async (ctx) => {
      const details = await this.#deps.providers.provider.interactionDetails(ctx.req, ctx.res);
      if (details.prompt.name !== 'login') throw new errors.InvalidRequest('this interaction does not expect a login');
      ctx.body = await this.#deps.passkeys.authenticationOptions(`login:${details.uid}`);
    });

    router.post('/:uid/passkey', formBody, async (ctx) => {
      const { provider } = this.#deps.providers;
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      if (details.prompt.name !== 'login') throw new errors.InvalidRequest('this interaction does not expect a login');
      const answer = parseAnswer(ctx.request.body);
      const owner = answer && userHandleOf(answer);
      const before = owner ? await accountById(this.#deps.accounts, owner) : null;
      const proof = before && !before.disabled ? await this.#deps.passkeys.authenticate(`login:${details.uid}`, answer!) : undefined;
      const ts = proof && proof.accountId === before!._id ? await dateSignIn(this.#deps.accounts, before!) : undefined;
      if (!proof || ts === undefined) {
        ctx.status = 401;
        return renderPage(ctx, 'notice', { title: 'Sign in', heading: 'Not signed in', message: PASSKEY_REFUSED, link: `/interaction/${details.uid}`, linkLabel: 'Back to sign-in' });
      }
      const result: InteractionResults = { login: { accountId: proof.accountId, ...signInMethods(proof.methods), ts } };
      return provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    });

    // A passkey as the second step after the password.
    router.get('/:uid/second-step/passkey/options', async (ctx) => {
      const { details, account } = await this.#load(ctx, 'verify');
      ctx.body = await this.#deps.passkeys.authenticationOptions(`second:${details.uid}`, account._id);
    });

    router.post('/:uid/second-step/passkey', formBody, async (ctx) => {
      const { details, account } = await this.#load(ctx, 'verify');
      const answer = parseAnswer(ctx.request.body);
      const proof = answer ? await this.#deps.passkeys.authenticate(`second:${details.uid}`, answer, account._id) : undefined;
      if (!proof) return this.#showVerify(ctx, details.uid, account._id, false, PASSKEY_REFUSED, 401);
      return this.#finish(ctx, details, true, ['pwd', ...proof.methods]);
    });

    router.post('/:uid/enrol', formBody, async (ctx) => {
      const { details, account } = await this.#load(ctx, 'enrol');
      const input = codeForm.safeParse(ctx.request.body);
      const codes = input.success && input.data.code ? await this.#deps.factors.confirmTotp(account._id, input.data.code) : undefined;
      if (!codes) return this.#showEnrol(ctx, details.uid, account, WRONG_CODE, 401);
      await this.#deps.changes.recorded(account, 'mfa.totp_added', origin(ctx));
      const next = await this.#finish(ctx, details, false);
      if (!next) return;
      return renderPage(ctx, 'two-step/recovery-codes', { title: 'Recovery codes', heading: 'Two-step verification is on', codes, next });
    });

    return router;
  }

  /** The interaction (bound to this browser) and its pending sign-in, or an error page. */
  async #load(ctx: Context, expected?: SecondStepMode) {
    const details = await this.#deps.providers.provider.interactionDetails(ctx.req, ctx.res);
    const pending = await this.#deps.pending.find(details.uid);
    if (!pending || (expected && pending.mode !== expected)) throw new errors.InvalidRequest('this sign-in has no second step waiting; start again from the app');
    const account = await accountById(this.#deps.accounts, pending.accountId);
    if (!account || account.disabled) throw new errors.InvalidRequest('this sign-in cannot continue; start again from the app');
    return { details, pending, account };
  }

  /** Completes the sign-in (redirecting when `redirect`, else returning where to go on). */
  async #finish(ctx: Context, details: Details, redirect = true, methods: Method[] = ['pwd', 'otp']): Promise<string | undefined> {
    const { provider } = this.#deps.providers;
    const completed = await this.#deps.pending.complete(details.uid);
    if (!completed) {
      ctx.status = 409;
      await renderPage(ctx, 'error', { title: 'Sign in again', error: 'login_required', errorDescription: CHANGED });
      return undefined;
    }
    const result: InteractionResults = { login: { accountId: completed.accountId, ...signInMethods(methods), ts: completed.ts } };
    if (redirect) {
      await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
      return undefined;
    }
    return provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  }

  async #showVerify(ctx: Context, uid: string, accountId: string, recovery: boolean, error?: string, status = 200) {
    const state = await this.#deps.factors.state(accountId);
    ctx.status = status;
    return renderPage(ctx, 'two-step/verify', {
      title: 'Two-step verification', recovery, error, totp: state.totp, passkeys: state.passkeys > 0,
      self: `/interaction/${uid}/second-step`, action: `/interaction/${uid}/second-step`,
      passkeyOptionsUrl: `/interaction/${uid}/second-step/passkey/options`, passkeyAction: `/interaction/${uid}/second-step/passkey`,
    }, { scripts: state.passkeys > 0 });
  }

  async #showEnrol(ctx: Context, uid: string, account: AccountRecord, error?: string, status = 200) {
    const view = await enrolmentView(this.#deps.factors, account._id, this.#deps.settings.issuer, account.username);
    ctx.status = status;
    return renderPage(ctx, 'two-step/enrol', {
      title: 'Set up two-step verification', ...view, error, action: `/interaction/${uid}/enrol`,
      reason: 'This app asks for a second step when you sign in. Set up an authenticator app to continue.',
    });
  }
}

function origin(ctx: Context) {
  return { ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined };
}

/** The posted WebAuthn answer, if it is one at all (its checks are the library's). */
function parseAnswer(body: unknown): AuthenticationResponseJSON | undefined {
  const input = passkeyForm.safeParse(body);
  if (!input.success) return undefined;
  try {
    const answer = JSON.parse(input.data.response) as AuthenticationResponseJSON;
    return typeof answer?.id === 'string' && typeof answer.response === 'object' ? answer : undefined;
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    return undefined;
  }
}

/** The account a discoverable passkey names (its user handle: the account id we registered). */
function userHandleOf(answer: AuthenticationResponseJSON): string | undefined {
  const handle = answer.response.userHandle;
  return typeof handle === 'string' ? Buffer.from(handle, 'base64url').toString() : undefined;
}
