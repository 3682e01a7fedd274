import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context } from 'koa';
import { errors } from 'oidc-provider';
import { z } from 'zod';

import { defaults } from '../../config/defaults.js';
import { renderPage } from '../http/render.js';
import { renderInteractionErrors } from '../interactions/routes.js';
import type { ProviderSource } from '../oidc/provider-host.js';
import { dateSignIn } from '../revocation/cutoff.js';
import { checkCredentials, type CredentialCheckDeps } from '../security/credential-check.js';
import type { ConnectorCatalog } from './catalog.js';
import type { FederatedSignIns } from './federated-sign-ins.js';
import type { FederatedOutcome, Federation } from './federation.js';
import type { AccountRecord } from '../db/models/account.js';
import type { SecondStepCheck, SecondStepInput } from '../mfa/second-step-check.js';
import type { ConnectorRecord, PendingRecord, UpstreamProfile } from './records.js';
import { UpstreamError, type Upstreams } from './upstream.js';

export interface ConnectorRouteDeps {
  providers: ProviderSource;
  catalog: ConnectorCatalog;
  upstreams: Upstreams;
  federation: Federation;
  signIns: FederatedSignIns;
  credentials: CredentialCheckDeps;
  secondFactor: SecondFactor;
}

/** The account's second step, as the sign-in asks it (src/mfa/second-step-check.ts). */
export interface SecondFactor {
  has(accountId: string): Promise<boolean>;
  check(account: AccountRecord, input: SecondStepInput, origin: { ip: string; userAgent?: string }): Promise<SecondStepCheck>;
}

const EXPIRED = 'This sign-in has expired or was already completed. Start again from the app.';
const WRONG_PASSWORD = 'That is not the password of this account.';
const WRONG_CODE = 'That code is not right. Try again.';
const LOCKED_OUT = 'Too many failed attempts. Try again later.';
const CHANGED = 'Your account changed during this sign-in. Sign in again.';
const BUSY = 'We are handling a lot of sign-ins right now. Please try again in a moment.';

const linkForm = z.object({ password: z.string().min(1).max(1024), code: z.string().trim().max(64).optional() });

/**
 * "Continue with …": the round trip to an upstream provider. The request is stored
 * server-side under the interaction (state, nonce, PKCE verifier) and consumed once; the
 * answer is handled on a path under the interaction, where oidc-provider's interaction
 * cookie proves it is the browser that started it.
 */
export function connectorRoutes(deps: ConnectorRouteDeps): Router {
  const { providers, catalog, upstreams, federation } = deps;
  const { pending } = catalog.collections;
  const router = new Router();
  const form = bodyParser({ enableTypes: ['form'], formLimit: `${defaults.limits.bodyBytes}b`, encoding: 'utf-8' });
  const expiresAt = () => new Date(Date.now() + defaults.ttl.interaction * 1000);
  router.use(renderInteractionErrors);

  router.get('/interaction/:uid/connectors/:id', async (ctx) => {
    const details = await loginInteraction(ctx);
    const connector = await catalog.find(ctx.params.id!);
    if (!connector?.enabled) return failed(ctx, details.uid, 'This sign-in option is not available.', 404);
    const request = await upstreams.begin(await catalog.client(connector)).catch((err: unknown) => fail(err));
    if (typeof request === 'string') return failed(ctx, details.uid, request, 502);
    const { url, ...expected } = request;
    const record: PendingRecord = { _id: details.uid, stage: 'upstream', connector_id: connector._id, ...expected, expires_at: expiresAt() };
    await pending.updateOne({ _id: details.uid }, { $set: record, $unset: { account_id: '', profile: '' } }, { upsert: true });
    ctx.status = 303;
    ctx.redirect(url.href);
  });

  // The redirect URI registered at the upstream: one per connector, so it names no interaction;
  // the state finds it, and the browser continues under that interaction's path.
  router.get('/connectors/:id/callback', async (ctx) => {
    const state = typeof ctx.query.state === 'string' ? ctx.query.state : '';
    const found = await pending.findOne({ stage: 'upstream', connector_id: { $eq: ctx.params.id! }, state: { $eq: state }, expires_at: { $gt: new Date() } });
    if (!found) return failed(ctx, undefined, EXPIRED, 400);
    ctx.status = 303;
    ctx.redirect(`/interaction/${found._id}/connectors/${encodeURIComponent(found.connector_id)}/callback?${ctx.querystring}`);
  });

  router.get('/interaction/:uid/connectors/:id/callback', async (ctx) => {
    const { uid } = await loginInteraction(ctx);
    const state = typeof ctx.query.state === 'string' ? ctx.query.state : '';
    // Single use: the request is claimed by deleting it, so a replayed answer finds nothing.
    const filter = { _id: uid, stage: 'upstream' as const, connector_id: { $eq: ctx.params.id! }, state: { $eq: state }, expires_at: { $gt: new Date() } };
    const expected = await pending.findOne(filter);
    if (expected?.stage !== 'upstream' || (await pending.deleteOne(filter)).deletedCount !== 1) return failed(ctx, uid, EXPIRED, 400);
    const connector = await catalog.find(expected.connector_id);
    if (!connector?.enabled) return failed(ctx, uid, 'This sign-in option is not available.', 404);
    const profile = await upstreams.finish(await catalog.client(connector), new URLSearchParams(ctx.querystring), expected)
      .catch((err: unknown) => fail(err));
    if (typeof profile === 'string') return failed(ctx, uid, profile, 400);
    return settle(ctx, uid, connector, profile, await federation.resolve(connector, profile, origin(ctx)));
  });

  router.get('/interaction/:uid/link', async (ctx) => {
    const { uid } = await loginInteraction(ctx);
    const link = await pendingLink(uid);
    if (!link) return failed(ctx, uid, EXPIRED, 400);
    return showLink(ctx, uid, link);
  });

  router.post('/interaction/:uid/link', form, async (ctx) => {
    const { uid } = await loginInteraction(ctx);
    const link = await pendingLink(uid);
    if (!link) return failed(ctx, uid, EXPIRED, 400);
    const input = linkForm.safeParse(ctx.request.body);
    if (!input.success) return showLink(ctx, uid, link, WRONG_PASSWORD, 400);
    const account = await deps.credentials.accounts.model.findById(link.record.account_id, { username: 1 }).lean();
    if (!account) return failed(ctx, uid, EXPIRED, 400);
    const check = await checkCredentials(deps.credentials, account.username, input.data.password, origin(ctx));
    if (check.outcome === 'locked' || check.outcome === 'busy') {
      ctx.set('Retry-After', String(check.retryAfterSeconds));
      return showLink(ctx, uid, link, check.outcome === 'locked' ? LOCKED_OUT : BUSY, check.outcome === 'locked' ? 429 : 503);
    }
    if (check.outcome === 'invalid' || check.account._id !== link.record.account_id) return showLink(ctx, uid, link, WRONG_PASSWORD, 401);
    // A password alone does not prove an account that asks for more: its second step too.
    if (link.secondStep) {
      const code = input.data.code ?? '';
      const second = await deps.secondFactor.check(check.account, { kind: /^\d+$/.test(code) ? 'totp' : 'recovery', code }, origin(ctx));
      if (second.outcome === 'locked') {
        ctx.set('Retry-After', String(second.retryAfterSeconds));
        return showLink(ctx, uid, link, LOCKED_OUT, 429);
      }
      if (second.outcome === 'invalid') return showLink(ctx, uid, link, WRONG_CODE, 401);
    }
    // Claimed once: two submissions of the right password link once.
    if ((await pending.deleteOne({ _id: uid, stage: 'link' })).deletedCount !== 1) return failed(ctx, uid, EXPIRED, 400);
    const outcome = await federation.link(link.connector, link.record.profile, check.account._id, origin(ctx));
    return settle(ctx, uid, link.connector, link.record.profile, outcome);
  });

  async function settle(ctx: Context, uid: string, connector: ConnectorRecord, profile: UpstreamProfile, outcome: FederatedOutcome) {
    if (outcome.kind === 'refused') return failed(ctx, uid, outcome.message, 403);
    if (outcome.kind === 'link') {
      const record: PendingRecord = { _id: uid, stage: 'link', connector_id: connector._id, account_id: outcome.account._id, profile, expires_at: expiresAt() };
      await pending.updateOne({ _id: uid }, { $set: record, $unset: { state: '', nonce: '', verifier: '' } }, { upsert: true });
      ctx.status = 303;
      return ctx.redirect(`/interaction/${uid}/link`);
    }
    const { account } = outcome;
    // Dated like every sign-in (dateSignIn): refused if the account changed (revoked, disabled) since it was read.
    const ts = await dateSignIn(deps.credentials.accounts.model, account);
    if (ts === undefined) return failed(ctx, uid, CHANGED, 409);
    await deps.signIns.record(account._id, ts, connector.name);
    return providers.provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: account._id, amr: ['fed'], ts } }, { mergeWithLastSubmission: false });
  }

  async function pendingLink(uid: string) {
    const record = await pending.findOne({ _id: uid, stage: 'link', expires_at: { $gt: new Date() } });
    if (record?.stage !== 'link') return undefined;
    const connector = await catalog.find(record.connector_id);
    return connector ? { record, connector, secondStep: await deps.secondFactor.has(record.account_id) } : undefined;
  }

  async function loginInteraction(ctx: Context) {
    const details = await providers.provider.interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== 'login') throw new errors.InvalidRequest('this interaction does not expect a sign-in');
    return details;
  }

  return router;
}

type PendingLink = { record: Extract<PendingRecord, { stage: 'link' }>; connector: ConnectorRecord; secondStep: boolean };

function showLink(ctx: Context, uid: string, link: PendingLink, error?: string, status = 200) {
  ctx.status = status;
  return renderPage(ctx, 'connector-link', {
    title: 'Link your account', connectorName: link.connector.name, email: link.record.profile.email, error, secondStep: link.secondStep,
    action: `/interaction/${uid}/link`, backUrl: `/interaction/${uid}`,
  });
}

/** The upstream's failure as a page with a way back to the sign-in (when the interaction is known). */
function failed(ctx: Context, uid: string | undefined, message: string, status: number) {
  ctx.status = status;
  return renderPage(ctx, 'error', {
    title: 'Sign-in failed', error: 'sign_in_failed', errorDescription: message, backUrl: uid ? `/interaction/${uid}` : undefined,
  });
}

/** An upstream's refusal becomes the message to show; anything else is ours and propagates. */
function fail(err: unknown): string {
  if (err instanceof UpstreamError) return err.message;
  throw err;
}

function origin(ctx: Context) {
  return { ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined };
}
