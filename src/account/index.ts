import Koa, { type Context, type Middleware } from 'koa';
import mount from 'koa-mount';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

import type { SecurityEvents } from '../security/events.js';
import { accountApi } from './api.js';
import type { AccountCenterDeps } from './deps.js';
import type { Devices } from './devices.js';
import { accountPages } from './pages.js';
import type { Amendment } from '../oidc/amendments.js';

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
 * not). Attached to every provider instance (one per key set); its amendment awaits the
 * write once the provider has answered, so the record exists by the time the browser
 * follows the redirect.
 */
export class DeviceTracking {
  readonly #devices: Devices;
  readonly #events: SecurityEvents;
  readonly #pending = new WeakMap<Context, Promise<void>>();

  constructor(devices: Devices, events: SecurityEvents) {
    this.#devices = devices;
    this.#events = events;
  }

  attach(provider: Provider): void {
    provider.on('authorization.success', (ctx: KoaContextWithOIDC) => {
      this.#pending.set(ctx as unknown as Context, this.#devices.seen(ctx, this.#events).catch((err: unknown) => {
        this.#events.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'could not record the device of a sign-in');
      }));
    });
  }

  /** Awaits the device write of a sign-in that just succeeded; nothing on other requests. */
  readonly amendment: Amendment = (ctx) => this.#pending.get(ctx);
}
