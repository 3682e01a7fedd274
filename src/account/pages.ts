import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { z } from 'zod';

import { defaults } from '../../config/defaults.js';
import { formBody } from '../http/form.js';
import { renderPage } from '../http/render.js';
import { checkPassword } from '../security/password-policy.js';
import { lockedOutMessage } from '../security/lockout-message.js';
import { changePassword, changesEmail, endOtherSessions, endSession, removeApp, updateProfile } from './actions.js';
import type { AccountCenterDeps } from './deps.js';
import { connectedApps, recentActivity, signedInSessions } from './overview.js';
import { confirmPassword, type Refusal } from './password-confirmation.js';
import { csrfMatches, finishSignIn, isRecent, startSignIn, visitOf, type AccountVisit } from './sign-in.js';
import { twoStepRoutes } from './two-step.js';

/**
 * Fixed messages after an action (the query names one; nothing typed is ever echoed). A
 * Map, so a name such as `constructor` or `__proto__` finds nothing rather than a member
 * every object inherits.
 */
const NOTICES = new Map<string, string>([
  ['app-removed', 'The app no longer has access to your account.'],
  ['session-ended', 'That device is signed out.'],
  ['others-ended', 'Every other device is signed out.'],
  ['password-changed', 'Your password is changed. Every other device and app was signed out.'],
  ['profile-saved', 'Your profile is saved. A new email address gets a link to confirm it; the old one is told of the change.'],
  ['confirmed', 'Thanks. For the next few minutes you can change your email address, remove access and sign out devices.'],
  ['totp-added', 'Two-step verification is on: sign-ins now ask for a code from your authenticator app.'],
  ['totp-removed', 'The authenticator app is removed.'],
  ['passkey-added', 'Your passkey is added: it can sign you in on its own, or as the second step after your password.'],
  ['passkey-renamed', 'The passkey’s name is saved.'],
  ['passkey-removed', 'The passkey is removed.'],
  ['identity-unlinked', 'That sign-in option is unlinked: it no longer signs you in here.'],
]);
const EMAIL_CHANGES_LIMITED = 'Too many email address changes from your account or network. Try again later.';
const ACCOUNT_CHANGED = 'Your account changed while this was checked. Open your account again and retry.';

/** What a failed password confirmation says, and with which status. */
function refusal(confirmation: { outcome: Refusal; retryAfterSeconds?: number }): { status: number; text: string } {
  switch (confirmation.outcome) {
    case 'wrong': return { status: 401, text: 'That is not your current password.' };
    case 'locked': return { status: 429, text: lockedOutMessage(confirmation.retryAfterSeconds ?? 1) };
    case 'busy': return { status: 503, text: 'We are handling a lot of sign-ins right now. Please try again in a moment.' };
  }
}

const id = z.string().min(1).max(128);
const passwordChange = z.object({ current_password: z.string().min(1).max(1024), new_password: z.string().min(1).max(1024) });
const passwordConfirmation = z.object({ password: z.string().min(1).max(1024) });
const profile = z.object({
  name: z.string().trim().max(256).transform((v) => v || null),
  email: z.union([z.literal(''), z.string().trim().toLowerCase().pipe(z.email().max(320))]).transform((v) => v || null),
});

/** The account center's pages under /account: server-rendered, no script, a form per action. */
export function accountPages(deps: AccountCenterDeps): Router {
  const router = new Router({ prefix: '/account' });
  const form = formBody;
  const origin = (ctx: Context) => ({ actor: defaults.account.clientId, ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined });

  router.use(pageErrors);

  router.get('/', async (ctx) => {
    const visit = await visitOf(deps, ctx);
    if (!visit) return startSignIn(deps, ctx);
    const notice = typeof ctx.query.notice === 'string' ? NOTICES.get(ctx.query.notice) : undefined;
    return showHome(ctx, visit, { notice });
  });

  router.get('/callback', async (ctx) => {
    const returnTo = await finishSignIn(deps, ctx);
    if (returnTo) return ctx.redirect(returnTo);
    ctx.status = 400;
    return renderPage(ctx, 'account/message', { title: 'Sign-in not completed', heading: 'Sign-in not completed', text: 'This sign-in link was stale or not meant for this browser.' });
  });

  /** Every POST: a signed-in visit and its CSRF token, or a page that says what to do. */
  async function guard(ctx: Context, next: Next) {
    const visit = await visitOf(deps, ctx);
    if (!visit) return message(ctx, 401, 'Signed out', 'Your session has ended. Open your account again to sign in.');
    const body = ctx.request.body as Record<string, unknown> | undefined;
    if (!csrfMatches(visit, body?._csrf)) return message(ctx, 403, 'Form expired', 'This form has expired or did not come from this page. Reload your account page and try again.');
    ctx.state.visit = visit;
    await next();
  }

  /**
   * Changing the email, removing access and signing out devices need a sign-in (or
   * password confirmation) within the last minutes: a session is not its owner.
   */
  async function recent(ctx: Context, next: Next) {
    const visit = ctx.state.visit as AccountVisit;
    if (isRecent(deps.settings, visit)) return next();
    return askToConfirm(ctx, visit);
  }

  function askToConfirm(ctx: Context, visit: AccountVisit, error?: { status: number; text: string }) {
    ctx.status = error?.status ?? 200;
    return renderPage(ctx, 'account/confirm', {
      title: 'Confirm it’s you', csrfToken: visit.csrfToken, username: visit.account.username, error: error?.text,
    });
  }

  twoStepRoutes(router, deps, { form, guard, askToConfirm });

  router.post('/confirm', form, guard, async (ctx) => {
    const visit = ctx.state.visit as AccountVisit;
    const input = passwordConfirmation.safeParse(ctx.request.body);
    const confirmation = input.success ? await confirmPassword(deps, visit.account, input.data.password, origin(ctx)) : { outcome: 'wrong' as const };
    if (confirmation.outcome !== 'confirmed') return askToConfirm(ctx, visit, refusal(confirmation));
    // Dated by the check, which re-read the account after waiting for the hash.
    await deps.devices.confirm(visit.sessionUid, visit.account._id, confirmation.at);
    return ctx.redirect('/account?notice=confirmed');
  });

  router.post('/apps/:grantId/remove', form, guard, recent, async (ctx) => {
    const visit = ctx.state.visit as AccountVisit;
    const grantId = id.safeParse(ctx.params.grantId);
    if (!grantId.success || !(await removeApp(deps, visit.account._id, grantId.data, origin(ctx)))) return gone(ctx, 'app');
    return ctx.redirect('/account?notice=app-removed');
  });

  router.post('/sessions/others/end', form, guard, recent, async (ctx) => {
    const visit = ctx.state.visit as AccountVisit;
    await endOtherSessions(deps, visit.account._id, visit.sessionUid, origin(ctx));
    return ctx.redirect('/account?notice=others-ended');
  });

  router.post('/sessions/:sessionId/end', form, guard, recent, async (ctx) => {
    const visit = ctx.state.visit as AccountVisit;
    const sessionId = id.safeParse(ctx.params.sessionId);
    if (!sessionId.success || !(await endSession(deps, visit.account._id, sessionId.data, origin(ctx)))) return gone(ctx, 'session');
    // Signing out this very device is a sign-out: the account center asks to sign in again.
    return ctx.redirect(sessionId.data === visit.sessionUid ? '/account' : '/account?notice=session-ended');
  });

  router.post('/identities/:identityId/unlink', form, guard, recent, async (ctx) => {
    const visit = ctx.state.visit as AccountVisit;
    const identityId = id.safeParse(ctx.params.identityId);
    const outcome = identityId.success ? await deps.identities.unlinkByUser(visit.account, identityId.data, origin(ctx)) : 'not_found';
    if (outcome === 'not_found') return gone(ctx, 'identity');
    if (outcome === 'last_way_in') {
      return message(ctx, 409, 'Keep a way to sign in', 'This is your only way to sign in. Set a password first (use "Forgot password?" on the sign-in page), or link another provider.');
    }
    return ctx.redirect('/account?notice=identity-unlinked');
  });

  router.post('/password', form, guard, async (ctx) => {
    const visit = ctx.state.visit as AccountVisit;
    const input = passwordChange.safeParse(ctx.request.body);
    if (!input.success) return showHome(ctx, visit, { passwordError: 'Enter your current and your new password.' }, 400);
    const confirmed = await confirmPassword(deps, visit.account, input.data.current_password, origin(ctx));
    if (confirmed.outcome !== 'confirmed') {
      const { status, text } = refusal(confirmed);
      return showHome(ctx, visit, { passwordError: text }, status);
    }
    const violation = await checkPassword(input.data.new_password, visit.account);
    if (violation) return showHome(ctx, visit, { passwordError: violation.message }, 400);
    if (!(await changePassword(deps, confirmed.account, input.data.new_password, visit.sessionUid, origin(ctx)))) {
      return showHome(ctx, visit, { passwordError: ACCOUNT_CHANGED }, 409);
    }
    return ctx.redirect('/account?notice=password-changed');
  });

  router.post('/profile', form, guard, async (ctx) => {
    const visit = ctx.state.visit as AccountVisit;
    const input = profile.safeParse(ctx.request.body);
    if (!input.success) return showHome(ctx, visit, { profileError: 'Enter a valid email address (or leave it empty).' }, 400);
    // How the account is reached and recovered: only with a recent proof of its owner.
    if (changesEmail(visit.account, input.data) && !isRecent(deps.settings, visit)) return askToConfirm(ctx, visit);
    const outcome = await updateProfile(deps, visit.account, input.data, origin(ctx));
    if (outcome === 'rate_limited') return showHome(ctx, visit, { profileError: EMAIL_CHANGES_LIMITED }, 429);
    if (outcome === 'email_taken') return showHome(ctx, visit, { profileError: 'That email address belongs to another account.' }, 409);
    return ctx.redirect('/account?notice=profile-saved');
  });

  async function showHome(ctx: Context, visit: AccountVisit, extra: Record<string, unknown>, status = 200) {
    const [apps, sessions, activity, identities] = await Promise.all([
      connectedApps(deps, visit.account._id),
      signedInSessions(deps, visit.account, visit.sessionUid),
      recentActivity(deps, visit.account),
      deps.identities.list(visit.account._id),
    ]);
    ctx.status = status;
    const twoStep = { ...(await deps.twoStep.factors.state(visit.account._id)), passkeyList: await deps.twoStep.passkeys.list(visit.account._id) };
    return renderPage(ctx, 'account/index', {
      title: 'Your account', wide: true, account: visit.account, apps, sessions, activity, twoStep, identities,
      csrfToken: visit.csrfToken, recent: isRecent(deps.settings, visit), ...extra,
    });
  }

  return router;
}

function message(ctx: Context, status: number, heading: string, text: string) {
  ctx.status = status;
  return renderPage(ctx, 'account/message', { title: heading, heading, text });
}

/** A stale or foreign id: the same answer either way, so another user's ids reveal nothing. */
const GONE = {
  app: 'That app has no access to your account (any more). Nothing was changed.',
  session: 'That device is not signed in to your account (any more). Nothing was changed.',
  identity: 'That sign-in option is not linked to your account (any more). Nothing was changed.',
} as const;

function gone(ctx: Context, what: keyof typeof GONE) {
  return message(ctx, 404, 'Nothing to do', GONE[what]);
}

/** Client errors (a body too large, say) as a page; anything else stays a bare 500 (src/http/errors.ts). */
async function pageErrors(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } catch (err) {
    const status = (err as { status?: unknown }).status;
    if (typeof status !== 'number' || status < 400 || status >= 500) throw err;
    await message(ctx, status, 'Request refused', 'The form could not be read. Go back to your account page and try again.');
  }
}
