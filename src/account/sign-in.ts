import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';

import { defaults } from '../../config/defaults.js';
import type { Settings } from '../config/settings.js';
import type { AccountRecord } from '../db/models/account.js';
import type { KeyRing } from '../keys/key-ring.js';
import type { AccountAdmin } from '../oidc/account-admin.js';
import type { ProviderSource } from '../oidc/provider-host.js';
import type { Devices } from './devices.js';
import { accountCenterRedirect } from './first-party.js';

const STATE_COOKIE = 'account.state';
const { clientId: ACCOUNT_CENTER } = defaults.account;

/** The signed-in user of an account-center request, through oidc-provider's own session. */
export interface AccountVisit {
  account: AccountRecord;
  /** The browser session's uid: "this device", and what the CSRF token is bound to. */
  sessionUid: string;
  /** Epoch seconds of the sign-in, or of the last password confirmation if later. */
  verifiedAt: number;
  /** The sign-in itself: when, and how (`acr`, src/mfa/acr.ts). */
  signedInAt: number;
  acr: string | undefined;
  csrfToken: string;
  /** The token under each live cookie key: a form shown just before a key rotation still posts. */
  sessionTokens: string[];
}

export interface SignInDeps {
  settings: Settings;
  providers: ProviderSource;
  users: AccountAdmin;
  devices: Devices;
  /** Its cookie keys sign the CSRF tokens. */
  keyRing: KeyRing;
}

/**
 * The account center has no session of its own: it reads oidc-provider's session (the
 * `_session` cookie) through the session adapter, so the user's cut-off, a sign-out at
 * the provider or from another device end it exactly like any other sign-in. It counts
 * only once the account center itself was authorized in it, through /auth.
 */
export async function visitOf(deps: SignInDeps, ctx: Context): Promise<AccountVisit | undefined> {
  const session = await deps.providers.provider.Session.get(ctx);
  if (!session.accountId || !session.authorizations?.[ACCOUNT_CENTER]) return undefined;
  const account = await deps.users.find(session.accountId);
  if (!account || account.disabled) return undefined;
  const device = await deps.devices.find(session.uid, account._id);
  await deps.devices.touch(session.uid);
  const confirmed = device?.confirmedAt ? Math.floor(device.confirmedAt.getTime() / 1000) : 0;
  return {
    account,
    sessionUid: session.uid,
    verifiedAt: Math.max(session.loginTs ?? 0, confirmed),
    signedInAt: session.loginTs ?? 0,
    acr: session.acr,
    csrfToken: csrfTokenFor(deps.keyRing.material.cookieKeys[0]!, session.uid),
    sessionTokens: deps.keyRing.material.cookieKeys.map((key) => csrfTokenFor(key, session.uid)),
  };
}

/** Remove access, sign out others: only within `recentSignInSeconds` of a sign-in or confirmation. */
export function isRecent(settings: Settings, visit: AccountVisit): boolean {
  return Date.now() / 1000 - visit.verifiedAt <= settings.account.recentSignInSeconds;
}

/** A per-session token: an HMAC of the session uid, so no store is needed and no other session's token fits. */
function csrfTokenFor(secret: string, sessionUid: string): string {
  return createHmac('sha256', secret).update(`account-center csrf:${sessionUid}`).digest('base64url');
}

export function csrfMatches(visit: AccountVisit, submitted: unknown): boolean {
  return typeof submitted === 'string' && visit.sessionTokens.some((token) => sameText(submitted, token));
}

/** Where the callback may send the browser back to: the account page, with a fixed notice at most. */
const RETURN_PATH = /^\/account(\/two-step\/(app|passkeys))?(\?notice=[\w-]+)?$/;

/**
 * Off to /auth as the account center: the login page when signed out, straight back
 * otherwise. `params` asks for more (`prompt=login` with `acr_values`: sign in again with
 * the second step), `returnTo` is where to come back.
 */
export function startSignIn(deps: SignInDeps, ctx: Context, params: Record<string, string> = {}, returnTo = ctx.url): void {
  const state = randomBytes(16).toString('base64url');
  returnTo = RETURN_PATH.test(returnTo) ? returnTo : '/account';
  ctx.cookies.set(STATE_COOKIE, `${state} ${returnTo}`, { ...cookieOptions(ctx), maxAge: defaults.ttl.interaction * 1000 });
  const url = new URL(`${deps.settings.issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: ACCOUNT_CENTER, response_type: 'code', scope: 'openid',
    redirect_uri: accountCenterRedirect(deps.settings.issuer), state, ...params,
  }).toString();
  ctx.redirect(url.href);
}

/**
 * The callback: the state must be the one this browser was sent off with (no login CSRF),
 * and the code the account center's, for this very session. The code is redeemed here in
 * process (destroyed), since the session is all the account center needs. Returns the
 * page to go back to, or undefined when the sign-in does not hold.
 */
export async function finishSignIn(deps: SignInDeps, ctx: Context): Promise<string | undefined> {
  const [expected, returnTo] = (ctx.cookies.get(STATE_COOKIE, { signed: true }) ?? '').split(' ');
  ctx.cookies.set(STATE_COOKIE, null, cookieOptions(ctx));
  const { state, code } = ctx.query;
  if (!expected || typeof state !== 'string' || typeof code !== 'string' || !sameText(state, expected)) return undefined;
  const { provider } = deps.providers;
  const session = await provider.Session.get(ctx);
  const issued = await provider.AuthorizationCode.find(code);
  if (!issued || issued.clientId !== ACCOUNT_CENTER || !session.accountId) return undefined;
  const ours = issued.accountId === session.accountId && issued.sessionUid === session.uid;
  await issued.destroy();
  return ours && returnTo && RETURN_PATH.test(returnTo) ? returnTo : undefined;
}

/** Constant-time for equal lengths; the lengths themselves are public. */
function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieOptions(ctx: Context) {
  return { httpOnly: true, sameSite: 'lax' as const, signed: true, secure: ctx.secure, path: '/account', overwrite: true };
}
