/**
 * An example third-party web app that signs its users in with the provider ("Log in with …"),
 * written as an app developer would: openid-client on Koa, sessions on the server, a
 * back-channel logout endpoint. `npm run demo` runs it; the environment below configures it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';
import * as client from 'openid-client';

import { logoutTokenVerifier } from './backchannel-logout.js';
import { renderHome, type ApiAnswer, type SignedIn, type Visitor } from './page.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`examples/web-app: ${name} is required`);
  return value;
};
const ISSUER = env('ISSUER');
const CLIENT_ID = env('CLIENT_ID');
const CLIENT_SECRET = env('CLIENT_SECRET');
const APP_URL = env('APP_URL'); // where browsers reach this app, e.g. http://localhost:8080
const API_URL = env('API_URL'); // the example resource server (examples/resource-server)
const API_AUDIENCE = env('API_AUDIENCE'); // its resource indicator: access tokens for it are JWTs
const PROVIDER_NAME = process.env.PROVIDER_NAME ?? new URL(ISSUER).host;

const REDIRECT_URI = new URL('/callback', APP_URL).href;
const AFTER_SIGN_OUT = new URL('/', APP_URL).href;
// offline_access: a refresh token (OpenID Connect grants it only with prompt=consent).
const SCOPE = 'openid profile email offline_access api:read api:write';
const API_CALLS = { read: ['GET', '/'], write: ['POST', '/'], introspected: ['GET', '/introspected'] } as const;

// Plain http is for a local issuer only; against a real one, leave `execute` out.
const config = await client.discovery(new URL(ISSUER), CLIENT_ID, CLIENT_SECRET, undefined,
  ISSUER.startsWith('http:') ? { execute: [client.allowInsecureRequests] } : undefined);
const verifyLogoutToken = logoutTokenVerifier(config);

/** Sessions live in this process's memory, keyed by a signed HttpOnly cookie. */
const visitors = new Map<string, Visitor>();
// Cookies ignore ports, so this name must differ from the provider's own cookies on localhost.
const COOKIE = 'demo_app_session';

const app = new Koa();
app.keys = [randomBytes(32).toString('base64url')];
const router = new Router();

function visitor(ctx: Koa.Context): Visitor {
  let id = ctx.cookies.get(COOKIE, { signed: true });
  if (!id || !visitors.has(id)) {
    id = randomBytes(16).toString('base64url');
    visitors.set(id, {});
    ctx.cookies.set(COOKIE, id, { signed: true, httpOnly: true, sameSite: 'lax' });
  }
  return visitors.get(id)!;
}

router.get('/', (ctx) => {
  const v = visitor(ctx);
  if (v.signOutState && ctx.query.state === v.signOutState) v.notice = `Signed out here and at ${PROVIDER_NAME}.`;
  ctx.body = renderHome(v, PROVIDER_NAME);
  v.notice = undefined;
});

router.get('/login', async (ctx) => {
  const pending = { state: client.randomState(), nonce: client.randomNonce(), codeVerifier: client.randomPKCECodeVerifier() };
  visitor(ctx).pending = pending;
  ctx.redirect(client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI, scope: SCOPE, prompt: 'consent', resource: API_AUDIENCE,
    state: pending.state, nonce: pending.nonce,
    code_challenge: await client.calculatePKCECodeChallenge(pending.codeVerifier), code_challenge_method: 'S256',
  }).href);
});

router.get('/callback', async (ctx) => {
  const v = visitor(ctx);
  const pending = v.pending;
  v.pending = undefined;
  if (!pending) throw new Error('no sign-in in progress in this browser; log in again');
  const tokens = await client.authorizationCodeGrant(config, new URL(ctx.originalUrl, APP_URL), {
    pkceCodeVerifier: pending.codeVerifier, expectedState: pending.state, expectedNonce: pending.nonce, idTokenExpected: true,
  });
  const claims = tokens.claims()!;
  // tokens.access_token is a JWT for the API (the resource named at /login); userinfo takes
  // a token of its own: a refresh narrowed to OpenID scopes returns one (and rotates).
  const forUserinfo = await client.refreshTokenGrant(config, tokens.refresh_token!, { scope: 'openid profile email' });
  v.user = {
    sub: claims.sub,
    sid: typeof claims.sid === 'string' ? claims.sid : undefined,
    idToken: tokens.id_token!,
    idTokenClaims: { ...claims },
    userinfo: { ...(await client.fetchUserInfo(config, forUserinfo.access_token, claims.sub)) },
    accessToken: tokens.access_token,
    refreshToken: forUserinfo.refresh_token,
  };
  v.endedByProvider = undefined;
  ctx.redirect('/');
});

router.post('/call-api', async (ctx) => {
  const user = signedIn(ctx);
  const call = String((ctx.request.body as Record<string, unknown>).call);
  if (!user || !(call in API_CALLS)) return ctx.redirect('/');
  user.apiAnswer = await callApi(call as keyof typeof API_CALLS, user.accessToken);
  ctx.redirect('/');
});

router.post('/refresh', async (ctx) => {
  const user = signedIn(ctx);
  if (!user?.refreshToken) return ctx.redirect('/');
  const before = user.refreshToken;
  const tokens = await client.refreshTokenGrant(config, before);
  user.accessToken = tokens.access_token;
  user.refreshToken = tokens.refresh_token ?? before;
  user.rotation = { before: fingerprint(before), after: fingerprint(user.refreshToken) };
  ctx.redirect('/');
});

router.post('/sign-out', (ctx) => {
  const v = visitor(ctx);
  const user = v.user;
  if (!user) return ctx.redirect('/');
  v.user = undefined;
  v.signOutState = client.randomState();
  // RP-initiated logout: the provider ends its session too, then sends the browser back here.
  ctx.redirect(client.buildEndSessionUrl(config, {
    id_token_hint: user.idToken, post_logout_redirect_uri: AFTER_SIGN_OUT, state: v.signOutState,
  }).href);
});

// The provider calls this (server to server) when the user's session there ends, e.g. when
// an administrator revokes the user: every session of ours for that provider session ends.
router.post('/backchannel-logout', async (ctx) => {
  ctx.set('Cache-Control', 'no-store');
  const token = (ctx.request.body as Record<string, unknown>).logout_token;
  const target = typeof token === 'string' ? await verifyLogoutToken(token).catch(() => undefined) : undefined;
  if (!target) {
    ctx.status = 400;
    ctx.body = { error: 'invalid_request', error_description: 'missing or invalid logout_token' };
    return;
  }
  for (const v of visitors.values()) {
    const user = v.user;
    if (!user || (target.sid && user.sid !== target.sid) || (target.sub && user.sub !== target.sub)) continue;
    v.user = undefined;
    v.endedByProvider = { at: new Date(), accessToken: user.accessToken };
  }
  ctx.status = 200;
});

router.post('/try-old-token', async (ctx) => {
  const ended = visitor(ctx).endedByProvider;
  if (ended) ended.answers = [await callApi('read', ended.accessToken), await callApi('introspected', ended.accessToken)];
  ctx.redirect('/');
});

function signedIn(ctx: Koa.Context): SignedIn | undefined {
  return visitor(ctx).user;
}

async function callApi(call: keyof typeof API_CALLS, accessToken: string): Promise<ApiAnswer> {
  const [method, path] = API_CALLS[call];
  const res = await fetch(new URL(path, API_URL), {
    method,
    headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
    body: method === 'POST' ? JSON.stringify({ note: 'written by the demo app' }) : undefined,
  });
  return { request: `${method} ${new URL(path, API_URL).href}`, status: res.status, body: await res.json() };
}

/** Enough to tell two refresh tokens apart on screen without showing either. */
function fingerprint(token: string): string {
  return createHash('sha256').update(token).digest('base64url').slice(0, 10);
}

// OAuth errors (access_denied, invalid_grant after a revocation, …) become a notice on the home page.
app.use(async (ctx, next) => {
  try {
    await next();
  } catch (err) {
    const v = visitor(ctx);
    const oauthError = (err as { error?: unknown }).error;
    v.notice = `Something went wrong: ${typeof oauthError === 'string' ? oauthError : (err as Error).message}`;
    ctx.status = 400;
    ctx.body = renderHome(v, PROVIDER_NAME);
    v.notice = undefined;
  }
});
app.use(bodyParser());
app.use(router.routes());

const port = Number(new URL(APP_URL).port || 80);
app.listen(port, () => console.log(`example app listening on ${APP_URL}`));
