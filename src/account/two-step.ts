import type Router from '@koa/router';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import type { Context, Middleware } from 'koa';
import { z } from 'zod';

import { defaults } from '../../config/defaults.js';
import { renderPage } from '../http/render.js';
import { MFA_ACR } from '../mfa/acr.js';
import { enrolmentView } from '../mfa/enrolment-view.js';
import type { TwoStepManagement } from '../mfa/index.js';
import type { AccountCenterDeps } from './deps.js';
import { isRecent, startSignIn, visitOf, type AccountVisit } from './sign-in.js';

/** The routes' shared guards from src/account/pages.ts: a signed-in visit with its CSRF token,
 * and the password confirmation page. */
export interface PageGuards {
  form: Middleware;
  guard: Middleware;
  askToConfirm(ctx: Context, visit: AccountVisit): Promise<void> | void;
}

const codeForm = z.object({ code: z.string().trim().max(16) });
const passkeyName = z.string().trim().min(1).max(defaults.mfa.passkeyNameLength);
const newPasskey = z.object({ name: passkeyName, response: z.string().min(2).max(16 * 1024) });
const credentialId = z.string().min(1).max(1366);

/**
 * "Two-step verification" in the account center: set up or remove the authenticator app, make
 * new recovery codes. Changing how the account is protected needs a recent sign-in, and once
 * the account has a second step, a recent sign-in that used it: a session alone, or a password
 * alone, is not the owner. Every change is a security event and a mail (FactorChanges).
 */
export function twoStepRoutes(router: Router, deps: AccountCenterDeps, { form, guard, askToConfirm }: PageGuards): void {
  const { factors, passkeys, changes } = deps.twoStep;
  const origin = (ctx: Context) => ({ actor: defaults.account.clientId, ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined });

  /** Whether the visit is recent enough (with its second step, once the account has one). */
  async function mayChange(visit: AccountVisit): Promise<boolean> {
    if (!(await factors.hasFactor(visit.account._id))) return isRecent(deps.settings, visit);
    return visit.acr === MFA_ACR && Date.now() / 1000 - visit.signedInAt <= deps.settings.account.recentSignInSeconds;
  }

  /** mayChange, or the visit is asked to prove itself: its password, or a new sign-in with the second step. */
  async function proven(ctx: Context, visit: AccountVisit, returnTo = '/account'): Promise<boolean> {
    if (await mayChange(visit)) return true;
    if (!(await factors.hasFactor(visit.account._id))) await askToConfirm(ctx, visit);
    // Sign in again, password and second step, and come back here.
    else startSignIn(deps, ctx, { prompt: 'login', acr_values: MFA_ACR }, returnTo);
    return false;
  }

  router.get('/two-step/app', signedIn(deps), async (ctx) => {
    const visit = ctx.state.visit as AccountVisit;
    if (!(await proven(ctx, visit, '/account/two-step/app'))) return;
    return showEnrol(ctx, visit);
  });

  router.post('/two-step/app', form, guard, async (ctx) => {
    const visit = ctx.state.visit as AccountVisit;
    if (!(await proven(ctx, visit, '/account/two-step/app'))) return;
    const input = codeForm.safeParse(ctx.request.body);
    const codes = input.success ? await factors.confirmTotp(visit.account._id, input.data.code) : undefined;
    if (!codes) return showEnrol(ctx, visit, 'That code is not right. Check the app and try again.', 400);
    await changes.recorded(visit.account, 'mfa.totp_added', origin(ctx));
    if (codes.length === 0) return ctx.redirect('/account?notice=totp-added');
    return renderPage(ctx, 'two-step/recovery-codes', { title: 'Recovery codes', heading: 'Two-step verification is on', codes, next: '/account?notice=totp-added' });
  });

  router.post('/two-step/app/remove', form, guard, async (ctx) => {
    const visit = ctx.state.visit as AccountVisit;
    if (!(await proven(ctx, visit))) return;
    if (await factors.removeTotp(visit.account._id)) await changes.recorded(visit.account, 'mfa.totp_removed', origin(ctx));
    return ctx.redirect('/account?notice=totp-removed');
  });

  router.post('/two-step/recovery-codes', form, guard, async (ctx) => {
    const visit = ctx.state.visit as AccountVisit;
    if (!(await proven(ctx, visit))) return;
    if (!(await factors.hasFactor(visit.account._id))) return ctx.redirect('/account');
    const codes = await factors.newRecoveryCodes(visit.account._id);
    await changes.recorded(visit.account, 'mfa.recovery_codes_generated', origin(ctx));
    return renderPage(ctx, 'two-step/recovery-codes', { title: 'Recovery codes', heading: 'New recovery codes', codes, next: '/account' });
  });

  router.get('/two-step/passkeys', signedIn(deps), async (ctx) => {
    const visit = ctx.state.visit as AccountVisit;
    if (!(await proven(ctx, visit, '/account/two-step/passkeys'))) return;
    return renderPage(ctx, 'two-step/passkey-add', {
      title: 'Add a passkey', csrfToken: visit.csrfToken,
      passkey: { kind: 'register', action: '/account/two-step/passkeys', optionsUrl: '/account/two-step/passkeys/options', label: 'Add passkey' },
    }, { scripts: true });
  });

  // Fetched by the page's script: JSON, never a redirect to sign in.
  router.get('/two-step/passkeys/options', signedIn(deps), async (ctx) => {
    const visit = ctx.state.visit as AccountVisit;
    if (!(await mayChange(visit))) {
      ctx.status = 403;
      ctx.body = { error: 'sign_in_again', error_description: 'sign in again to change two-step verification' };
      return;
    }
    ctx.body = await passkeys.registrationOptions(visit.account);
  });

  router.post('/two-step/passkeys', form, guard, async (ctx) => {
    const visit = ctx.state.visit as AccountVisit;
    if (!(await proven(ctx, visit, '/account/two-step/passkeys'))) return;
    const input = newPasskey.safeParse(ctx.request.body);
    const answer = input.success ? registrationAnswer(input.data.response) : undefined;
    const codes = answer && input.success ? await passkeys.register(visit.account, answer, input.data.name) : undefined;
    if (!codes) return message(ctx, 400, 'Passkey not added', 'Your passkey’s answer could not be checked. Go back and try again.');
    await changes.recorded(visit.account, 'mfa.passkey_added', origin(ctx));
    if (codes.length === 0) return ctx.redirect('/account?notice=passkey-added');
    return renderPage(ctx, 'two-step/recovery-codes', { title: 'Recovery codes', heading: 'Two-step verification is on', codes, next: '/account?notice=passkey-added' });
  });

  router.post('/two-step/passkeys/:id/rename', form, guard, async (ctx) => {
    const visit = ctx.state.visit as AccountVisit;
    const id = credentialId.safeParse(ctx.params.id);
    const name = passkeyName.safeParse((ctx.request.body as { name?: unknown } | undefined)?.name);
    if (!id.success || !name.success) return message(ctx, 400, 'Name not saved', `Give the passkey a name of 1 to ${defaults.mfa.passkeyNameLength} characters.`);
    if (!(await passkeys.rename(visit.account._id, id.data, name.data))) return message(ctx, 404, 'Nothing to do', 'That passkey is not on your account (any more).');
    return ctx.redirect('/account?notice=passkey-renamed');
  });

  router.post('/two-step/passkeys/:id/remove', form, guard, async (ctx) => {
    const visit = ctx.state.visit as AccountVisit;
    if (!(await proven(ctx, visit))) return;
    const id = credentialId.safeParse(ctx.params.id);
    if (!id.success || !(await passkeys.remove(visit.account._id, id.data))) return message(ctx, 404, 'Nothing to do', 'That passkey is not on your account (any more).');
    await changes.recorded(visit.account, 'mfa.passkey_removed', origin(ctx));
    return ctx.redirect('/account?notice=passkey-removed');
  });

  async function showEnrol(ctx: Context, visit: AccountVisit, error?: string, status = 200) {
    const view = await enrolmentView(factors, visit.account._id, deps.settings.issuer, visit.account.username);
    ctx.status = status;
    return renderPage(ctx, 'two-step/enrol', {
      title: 'Set up two-step verification', ...view, error, action: '/account/two-step/app', csrfToken: visit.csrfToken, cancelUrl: '/account',
    });
  }
}

/** A GET needs a signed-in visit but no form token; signed out, it signs in and comes back. */
function signedIn(deps: AccountCenterDeps): Middleware {
  return async (ctx, next) => {
    const visit = await visitOf(deps, ctx);
    if (!visit) return startSignIn(deps, ctx);
    ctx.state.visit = visit;
    return next();
  };
}

function message(ctx: Context, status: number, heading: string, text: string) {
  ctx.status = status;
  return renderPage(ctx, 'account/message', { title: heading, heading, text });
}

/** The posted answer of a registration ceremony, if it is one at all (its checks are the library's). */
function registrationAnswer(text: string): RegistrationResponseJSON | undefined {
  try {
    const answer = JSON.parse(text) as RegistrationResponseJSON;
    return typeof answer?.id === 'string' && typeof answer.response === 'object' ? answer : undefined;
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    return undefined;
  }
}
