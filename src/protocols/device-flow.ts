import type { Middleware } from 'koa';
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';

import { defaults } from '../../config/defaults.js';
import type { ProtocolSettings } from '../config/settings.js';
import { renderPage } from '../http/render.js';
import { PROVIDER_ROUTES } from '../oidc/routes.js';
import { clientNetwork } from '../security/client-network.js';
import type { RateLimits } from '../security/rate-limit.js';

type DeviceFlowFeature = NonNullable<Configuration['features']>['deviceFlow'];

/** What oidc-provider's re-render errors (lib/helpers/re_render_errors.js) mean to the person typing. */
const CODE_ERRORS: Record<string, string> = {
  NoCodeError: 'Enter the code your device shows.',
  NotFoundError: 'That code is not right. Check it on your device and try again.',
  ExpiredError: 'That code has expired. Start again on your device to get a new one.',
  AlreadyUsedError: 'That code has already been used. Start again on your device to get a new one.',
  AbortedError: 'The device was not signed in. You can close this page.',
};

/**
 * The device authorization grant (RFC 8628): a TV or CLI shows a short code, the person
 * enters it here, signs in and approves through the same interaction pages as any app.
 * oidc-provider runs the protocol; these are its pages, in our look, with our own forms
 * (its default form carries an inline handler our pages' CSP refuses).
 */
export function deviceFlowFeature(settings: ProtocolSettings): DeviceFlowFeature {
  return {
    enabled: settings.deviceFlow,
    charset: 'base-20',
    mask: '****-****',
    userCodeInputSource: async (ctx, _form, _out, err) => {
      const message = err ? (Object.hasOwn(CODE_ERRORS, err.name) ? CODE_ERRORS[err.name] : 'Something went wrong. Try again.') : undefined;
      await renderPage(ctx, 'device/enter-code', { title: 'Connect a device', ...formFields(ctx), error: message });
    },
    userCodeConfirmSource: async (ctx, _form, client, deviceInfo, userCode) => {
      await renderPage(ctx, 'device/confirm', {
        title: 'Connect a device', ...formFields(ctx), userCode, clientName: client.clientName ?? client.clientId,
        device: describeDevice(deviceInfo),
      });
    },
    successSource: async (ctx) => {
      await renderPage(ctx, 'notice', {
        title: 'Device connected', heading: 'Your device is signed in',
        message: `${ctx.oidc.client?.clientName ?? 'The app'} on your device can continue now. You can close this page.`,
      });
    },
  };
}

/** The form's target and its anti-forgery token, as oidc-provider's own form would carry them. */
function formFields(ctx: KoaContextWithOIDC): { action: string; xsrf: string } {
  const state = ctx.oidc.session?.state as { secret?: string } | undefined;
  return { action: ctx.oidc.urlFor('code_verification'), xsrf: state?.secret ?? '' };
}

function describeDevice(info: unknown): string | undefined {
  const { ip } = (info ?? {}) as { ip?: unknown };
  // An IPv4 client on a dual-stack listener shows as ::ffff:a.b.c.d; people know it as a.b.c.d.
  return typeof ip === 'string' ? `the network address ${ip.replace(/^::ffff:(?=\d+\.)/i, '')}` : undefined;
}

/**
 * Every code typed in is a guess at a live device code: submissions are counted per client
 * network before oidc-provider looks the code up, so parallel guesses cannot slip past.
 */
export function userCodeThrottle(limits: RateLimits): Middleware {
  const policy = defaults.protocols.deviceFlow.userCodeAttempts;
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || ctx.path !== PROVIDER_ROUTES.code_verification) return next();
    if (await limits.allow(`device-code:${clientNetwork(ctx.ip)}`, policy)) return next();
    ctx.status = 429;
    ctx.set('Retry-After', String(policy.windowSeconds));
    await renderPage(ctx, 'notice', {
      title: 'Too many attempts', heading: 'Too many codes tried',
      message: `Too many codes were entered from your network. Try again in ${Math.ceil(policy.windowSeconds / 60)} minutes.`,
      link: PROVIDER_ROUTES.code_verification, linkLabel: 'Back',
    });
    ctx.status = 429;
  };
}
