/**
 * An example API (resource server) that accepts the provider's JWT access tokens for its
 * audience. Most routes verify the token offline with jose (examples/snippets/jose-resource-server.ts);
 * GET /introspected asks the provider instead (RFC 7662), so it sees a revocation at once.
 * `npm run demo` runs it; the environment below configures it.
 */
import Router from '@koa/router';
import Koa from 'koa';
import type { JWTPayload } from 'jose';
import * as client from 'openid-client';

import { accessTokenVerifier, BearerError } from '../snippets/jose-resource-server.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`examples/resource-server: ${name} is required`);
  return value;
};
const ISSUER = env('ISSUER');
const API_AUDIENCE = env('API_AUDIENCE'); // the resource indicator clients ask tokens for
const API_URL = env('API_URL'); // where this API listens, e.g. http://localhost:8081
// Introspection needs client credentials of a confidential client. NOTE: the demo borrows the
// example app's (demo-app); once introspection is limited to the token's own client or a
// client registered as a resource server for the audience, give this API its own.
const INTROSPECTION_CLIENT_ID = env('INTROSPECTION_CLIENT_ID');
const INTROSPECTION_CLIENT_SECRET = env('INTROSPECTION_CLIENT_SECRET');

const verify = accessTokenVerifier(ISSUER, API_AUDIENCE);
const provider = await client.discovery(new URL(ISSUER), INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET, undefined,
  ISSUER.startsWith('http:') ? { execute: [client.allowInsecureRequests] } : undefined);

const app = new Koa();
const router = new Router();

type State = { token: JWTPayload };

/** Offline check: signature (JWKS), typ at+jwt, iss, aud, exp, and the route's scope. */
const requireScope = (scope: string): Koa.Middleware<State> => async (ctx, next) => {
  ctx.state.token = await verify(bearerToken(ctx), scope);
  await next();
};

router.get('/', requireScope('api:read'), (ctx) => {
  ctx.body = answer('read', 'offline: JWT verified with the JWKS', ctx.state.token);
});

router.post('/', requireScope('api:write'), (ctx) => {
  ctx.body = answer('write', 'offline: JWT verified with the JWKS', ctx.state.token);
});

router.get('/introspected', async (ctx) => {
  const info = await client.tokenIntrospection(provider, bearerToken(ctx));
  if (!info.active) throw new BearerError(401, 'invalid_token', 'the provider says the token is not active');
  if (!info.scope?.split(' ').includes('api:read') || ![info.aud].flat().includes(API_AUDIENCE)) {
    throw new BearerError(403, 'insufficient_scope', 'requires api:read for this API', 'api:read');
  }
  ctx.body = answer('read', 'introspection: the provider says the token is active', info);
});

function bearerToken(ctx: Koa.Context): string {
  const token = /^Bearer ([^\s]+)$/i.exec(ctx.get('authorization'))?.[1];
  if (!token) throw new BearerError(401, 'invalid_token', 'no Bearer access token');
  return token;
}

function answer(action: string, checkedBy: string, token: JWTPayload | client.IntrospectionResponse) {
  return { message: `Hello from the example API (${action})`, checked_by: checkedBy, sub: token.sub, client_id: token.client_id, scope: token.scope };
}

// RFC 6750 answers: 401 with WWW-Authenticate for a bad token, 403 naming the missing scope.
app.use(async (ctx, next) => {
  try {
    await next();
  } catch (err) {
    if (!(err instanceof BearerError)) throw err;
    ctx.status = err.status;
    ctx.set('WWW-Authenticate', `Bearer error="${err.error}"${err.scope ? `, scope="${err.scope}"` : ''}`);
    ctx.body = { error: err.error, error_description: err.message };
  }
});
app.use(router.routes());

const port = Number(new URL(API_URL).port || 80);
app.listen(port, () => console.log(`example API listening on ${API_URL}`));
