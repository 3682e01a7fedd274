import Koa, { type Context, type Middleware } from 'koa';
import mount from 'koa-mount';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

import type { SecurityEvents } from '../security/events.js';
import { accountApi } from './api.js';
import type { AccountCenterDeps } from './deps.js';
import type { Devices } from './devices.js';
import { accountPages } from './pages.js';

/** The account center: its pages under /account and the account API under /account/api. */
export function accountCenter(deps: AccountCenterDeps): Middleware {
  const pages = accountPages(deps);
  const center = new Koa();
  center.use(accountApi(deps));
  center.use(pages.routes());
  center.use(pages.allowedMethods());
  // Mounted at '/', koa-mount runs these on the parent's context (its cookie keys, its proxy setting).
  return mount(center);
}

/**
 * Records each browser session's device at its sign-in and its "last active" afterwards,
 * from oidc-provider's `authorization.success` (it knows the session; the login form does
 * not yet). Mounted just before the provider and awaited there, so the record exists by
 * the time the browser follows the redirect.
 */
export function deviceTracking(provider: Provider, devices: Devices, events: SecurityEvents): Middleware {
  const pending = new WeakMap<Context, Promise<void>>();
  provider.on('authorization.success', (ctx: KoaContextWithOIDC) => {
    pending.set(ctx as unknown as Context, devices.seen(ctx, events).catch((err: unknown) => {
      console.error('[account] could not record the device of a sign-in:', err);
    }));
  });
  return async (ctx, next) => {
    await next();
    await pending.get(ctx);
  };
}
