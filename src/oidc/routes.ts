import type { Middleware } from 'koa';
import compose from 'koa-compose';
import type { Configuration } from 'oidc-provider';

/**
 * oidc-provider's endpoints (its own defaults, stated here so that our middleware can tell
 * the provider's paths from ours). Every path below one of these, and discovery under
 * /.well-known, belongs to the provider.
 */
export const PROVIDER_ROUTES = {
  authorization: '/auth',
  backchannel_authentication: '/backchannel',
  code_verification: '/device',
  challenge: '/challenge',
  device_authorization: '/device/auth',
  end_session: '/session/end',
  introspection: '/token/introspection',
  jwks: '/jwks',
  pushed_authorization_request: '/request',
  registration: '/reg',
  revocation: '/token/revocation',
  token: '/token',
  userinfo: '/me',
  credential: '/credential',
} as const satisfies Configuration['routes'];

const PROVIDER_PATHS = [...new Set(Object.values(PROVIDER_ROUTES)), '/.well-known'];
const PROVIDER_PREFIXES = PROVIDER_PATHS.map((route) => `${route}/`);

/** Whether oidc-provider, not one of our routers, serves this path. */
export function isProviderPath(path: string): boolean {
  return PROVIDER_PATHS.includes(path) || PROVIDER_PREFIXES.some((prefix) => path.startsWith(prefix));
}

/**
 * Our pages and APIs, run on every path but the provider's. Each of our routers only
 * passes the provider's requests on; skipping them all at once keeps the token endpoint,
 * the hot path, as cheap as bare oidc-provider's (`npm run bench` compares the two).
 */
// `any` context: each router's middleware types its own context (params, router).
export function exceptProviderPaths(ours: Middleware<any, any>[]): Middleware {
  const chain = compose(ours);
  return (ctx, next) => (isProviderPath(ctx.path) ? next() : chain(ctx, next));
}
