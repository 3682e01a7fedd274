import type Router from '@koa/router';
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

/**
 * "Two-step verification" in the account center: set up or remove the authenticator app, make
 * new recovery codes. Changing how the account is protected needs a recent sign-in, and once
 * the account has a second step, a recent sign-in that used it: a session alone, or a password
 * alone, is not the owner. Every change is a security event and a mail (FactorChanges).
 */
export function twoStepRoutes(router: Router, deps: AccountCenterDeps, { form, guard, askToConfirm }: PageGuards): void {
  const { factors, changes } = deps.twoStep;
  const origin = (ctx: Context) => ({ actor: defaults.account.clientId, ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined });

  /** Whether the visit may change the account's second step; otherwise it is asked to prove itself. */
  async function proven(ctx: Context, visit: AccountVisit, returnTo = '/account'): Promise<boolean> {
    if (!(await factors.hasFactor(visit.account._id))) {
      if (isRecent(deps.settings, visit)) return true;
      await askToConfirm(ctx, visit);
      return false;
    }
    const withSecondStep = visit.acr === MFA_ACR && Date.now() / 1000 - visit.signedInAt <= deps.settings.account.recentSignInSeconds;
    if (withSecondStep) return true;
    // Sign in again, password and code, and come back here.
    startSignIn(deps, ctx, { prompt: 'login', acr_values: MFA_ACR }, returnTo);
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
