import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { ProviderSource } from '../oidc/provider-host.js';
import { z } from 'zod';

import { defaults } from '../../config/defaults.js';
import { csrfToken, csrfValid } from '../http/csrf.js';
import { formBody } from '../http/form.js';
import { renderPage } from '../http/render.js';
import { originOf, SELF_SERVICE_PATHS, type SelfServiceDeps } from './deps.js';
import { restoreEmail } from './email-change.js';
import { confirmEmail } from './email-verification.js';
import { requestPasswordReset, resetPassword } from './password-reset.js';

const { verifyEmail, forgotPassword, resetPassword: resetPath, restoreEmail: restorePath } = SELF_SERVICE_PATHS;

const BAD_LINK = 'This link is not valid: it was already used, it expired, or it was copied incompletely.';
const STALE_FORM = 'This page expired. Open it again and resend the form.';
const SENT = 'If an account exists for that username or email address, we sent it a link to choose a new password. '
  + `The link works once, for ${defaults.selfService.resetPasswordTtl / 60} minutes.`;
const TOO_MANY = 'Too many requests from your network. Try again in a few minutes.';

const interactionUid = z.string().regex(/^[\w-]{1,64}$/).optional().catch(undefined);
const forgotForm = z.object({ login: z.string().trim().min(1).max(320) });
const resetForm = z.object({ token: z.string().max(200), password: z.string().max(1024) });

/**
 * The pages emailed links open and "Forgot password?": outside any interaction, so each
 * POST carries a CSRF token (src/http/csrf.ts). Links hold nothing but the opaque token;
 * where the flow started from a sign-in, the token's record knows which one to go back to.
 */
export function selfServicePages(providers: ProviderSource, deps: SelfServiceDeps): Router {
  const router = new Router();

  /** The page a mailed link opens. Acting on it takes a click (a POST): mail scanners that
   * open links must not use them up (nor, for a restore link, sign everyone out). */
  function linkPage(purpose: 'verify_email' | 'restore_email', view: string, title: string, action: string) {
    return async (ctx: Context) => {
      const token = String(ctx.query.token ?? '');
      const pending = await deps.tokens.peek(purpose, token);
      if (!pending) return notice(ctx, 400, 'Link not valid', BAD_LINK);
      return page(ctx, 200, view, { title, email: pending.record.email, token, action });
    };
  }

  router.get(verifyEmail, linkPage('verify_email', 'verify-email', 'Confirm your email address', verifyEmail));

  router.post(verifyEmail, formBody, requireCsrf, async (ctx) => {
    const confirmed = await confirmEmail(deps, String(field(ctx, 'token')));
    if (!confirmed) return notice(ctx, 400, 'Link not valid', BAD_LINK);
    return notice(ctx, 200, 'Email address confirmed', `${confirmed.email} is confirmed.`, await continueLink(confirmed.interactionUid));
  });

  router.get(restorePath, linkPage('restore_email', 'restore-email', 'Take your account back', restorePath));

  router.post(restorePath, formBody, requireCsrf, async (ctx) => {
    const restored = await restoreEmail(deps, String(field(ctx, 'token')), originOf(ctx));
    if (restored.ok) {
      return notice(ctx, 200, 'Email address restored', `Your account has ${restored.email} as its email address again, and every device and app was signed out. `
        + 'Choose a new password now.', { href: forgotPassword, label: 'Choose a new password' });
    }
    if (restored.reason === 'email_taken') return notice(ctx, 409, 'Not restored', 'That address now belongs to another account. Ask the administrator for help.');
    return notice(ctx, 400, 'Link not valid', BAD_LINK);
  });

  router.use([forgotPassword, resetPath], resetEnabled);

  router.get(forgotPassword, async (ctx) => showForgot(ctx, 200, interactionUid.parse(ctx.query.interaction)));

  router.post(forgotPassword, formBody, requireCsrf, async (ctx) => {
    const back = interactionUid.parse(field(ctx, 'interaction'));
    const input = forgotForm.safeParse(ctx.request.body);
    if (!input.success) return showForgot(ctx, 400, back, 'Enter your username or email address.');
    const answer = await requestPasswordReset(deps, input.data.login, originOf(ctx), back);
    if (answer === 'rate_limited') return showForgot(ctx, 429, back, TOO_MANY);
    return notice(ctx, 200, 'Check your email', SENT, back ? { href: `/interaction/${back}`, label: 'Back to sign in' } : undefined);
  });

  router.get(resetPath, async (ctx) => {
    const token = String(ctx.query.token ?? '');
    if (!(await deps.tokens.peek('reset_password', token))) return badResetLink(ctx);
    return showReset(ctx, 200, token);
  });

  router.post(resetPath, formBody, requireCsrf, async (ctx) => {
    const input = resetForm.safeParse(ctx.request.body);
    if (!input.success) return badResetLink(ctx);
    const outcome = await resetPassword(deps, input.data.token, input.data.password, originOf(ctx));
    if (outcome.ok) {
      return notice(ctx, 200, 'Password changed', 'Your password was changed, and every session and app signed in as you was signed out. Sign in with the new password.',
        await continueLink(outcome.interactionUid));
    }
    if (outcome.reason === 'policy') return showReset(ctx, 400, input.data.token, outcome.message);
    return badResetLink(ctx);
  });

  async function resetEnabled(ctx: Context, next: Next) {
    if (!deps.settings.passwordReset) return notice(ctx, 404, 'Not available', 'Password reset is not offered here. Ask the administrator.');
    return next();
  }

  /** Back into the sign-in the flow started from, while that interaction still exists. */
  async function continueLink(uid: string | undefined) {
    if (!uid || !(await providers.provider.Interaction.find(uid))) return undefined;
    return { href: `/interaction/${uid}`, label: 'Continue signing in' };
  }

  return router;
}

async function requireCsrf(ctx: Context, next: Next) {
  if (!csrfValid(ctx, field(ctx, 'csrf'))) return notice(ctx, 403, 'Page expired', STALE_FORM);
  return next();
}

function showForgot(ctx: Context, status: number, interaction: string | undefined, error?: string) {
  return page(ctx, status, 'forgot-password', {
    title: 'Forgot password', action: forgotPassword, interaction, error,
    login: typeof field(ctx, 'login') === 'string' ? field(ctx, 'login') : undefined,
    signInUrl: interaction ? `/interaction/${interaction}` : undefined,
  });
}

function showReset(ctx: Context, status: number, token: string, error?: string) {
  return page(ctx, status, 'reset-password', { title: 'Choose a new password', action: resetPath, token, error });
}

function badResetLink(ctx: Context) {
  return notice(ctx, 400, 'Link not valid', BAD_LINK, { href: forgotPassword, label: 'Ask for a new link' });
}

function notice(ctx: Context, status: number, heading: string, message: string, link?: { href: string; label: string }) {
  return page(ctx, status, 'notice', { title: heading, heading, message, link: link?.href, linkLabel: link?.label });
}

function page(ctx: Context, status: number, view: string, data: Record<string, unknown>) {
  ctx.status = status;
  return renderPage(ctx, view, { ...data, csrf: csrfToken(ctx) });
}

function field(ctx: Context, name: string): unknown {
  return ((ctx.request.body ?? {}) as Record<string, unknown>)[name];
}
