import Provider, { errors, type AdapterPayload, type KoaContextWithOIDC } from 'oidc-provider';

import type { Settings } from '../config/settings.js';
import type { SecurityEvents } from '../security/events.js';
import { MongoAdapter } from './adapter.js';
import { recordReuse, refreshEventInput, type RefreshTokenIds } from './refresh-audit.js';
import { refreshPolicyFor } from './refresh-policy.js';
import type { ArtifactDoc, ArtifactStore } from './store.js';

/** A consumed token this request may present once more (the retry grace period). */
interface GraceRetry {
  jti: string;
  /** The successor the client says it never received. */
  successorId: string;
  ids: RefreshTokenIds;
}

/** Marks live only as long as the request context does. */
const graceRetries = new WeakMap<KoaContextWithOIDC, GraceRetry>();

/**
 * RefreshToken storage that owns reuse detection and the retry grace period, layered on
 * MongoAdapter without touching oidc-provider's grant logic.
 *
 * Reuse: oidc-provider's refresh grant checks scope, grant and account before it looks at
 * `consumed`, so a replay carrying a bad `scope` would answer invalid_scope and keep the
 * family alive. Here a consumed token presented by its own client at the refresh grant is
 * settled as soon as it is read: the family is revoked and the answer is the same
 * invalid_grant an unknown token gets, whatever else the request carries.
 *
 * Grace: within the window, the immediate predecessor of an unused successor reads as not
 * yet consumed, once, so the grant handler rotates it again. The successor it replaces is
 * kept, consumed and marked superseded: if a holder of it turns up, two parties held the
 * chain, and that is reuse. Successors are found by their parent's id, never by position
 * in the grant, so another chain under the same grant is never touched.
 */
export class RefreshTokenAdapter extends MongoAdapter {
  readonly #settings: Settings;
  readonly #events: SecurityEvents;
  #graceRetries = 0;

  constructor(store: ArtifactStore, deps: { settings: Settings; events: SecurityEvents }) {
    super(store, 'RefreshToken');
    this.#settings = deps.settings;
    this.#events = deps.events;
  }

  /** Grace retries this process has allowed (each is also a `refresh_token.grace_retry` event). */
  get graceRetryCount(): number {
    return this.#graceRetries;
  }

  override async find(id: string): Promise<AdapterPayload | undefined> {
    const doc = await this.collection.findOne({ _id: id });
    if (!doc) return undefined;
    const ctx = refreshGrantContext();
    if (!ctx) return this.isExpired(doc) ? undefined : this.toPayload(doc);
    if (this.isExpired(doc)) {
      await this.#events.record('refresh_token.expired_use', refreshEventInput(ctx, doc));
      // Returned as is: the grant handler reads it with ignoreExpiration and answers "expired".
      return this.toPayload(doc);
    }
    // Another client's token: oidc-provider answers invalid_grant (client mismatch), the
    // same body as for an unknown token, and that client may not end someone else's family.
    if (!doc.consumedAt || doc.clientId !== ctx.oidc.client?.clientId) return this.toPayload(doc);

    const successorId = await this.#lostSuccessor(ctx, doc);
    if (!successorId) return this.#reused(doc);
    graceRetries.set(ctx, { jti: id, successorId, ids: doc });
    const payload = this.toPayload(doc);
    delete payload.consumed;
    return payload;
  }

  override async consume(id: string): Promise<void> {
    const ctx = Provider.ctx;
    const retry = ctx && graceRetries.get(ctx);
    if (!ctx || retry?.jti !== id) return super.consume(id);
    const now = new Date();
    // Once per token: of several retries racing with it, one wins and the others are reuse.
    const claimed = await this.collection.updateOne(
      { _id: id, graceUsedAt: { $exists: false } },
      { $set: { graceUsedAt: now } },
    );
    if (claimed.matchedCount === 0) return this.lostConsumeRace(id);
    const superseded = await this.collection.updateOne(
      { _id: retry.successorId, consumedAt: { $exists: false } },
      { $set: { consumedAt: now, supersededAt: now } },
    );
    // The "lost" successor was used meanwhile: its holder had it after all, so this is a replay.
    if (superseded.matchedCount === 0) return this.lostConsumeRace(id);
    this.#graceRetries += 1;
    await this.#events.record('refresh_token.grace_retry', refreshEventInput(ctx, retry.ids));
  }

  /** Every rotated token names its parent: the one the grant handler just consumed. */
  protected override toDoc(id: string, payload: AdapterPayload, expiresIn?: number): ArtifactDoc {
    const doc = super.toDoc(id, payload, expiresIn);
    const parent = Provider.ctx?.oidc.entities.RotatedRefreshToken?.jti;
    if (parent && parent !== id) doc.parentId = parent;
    return doc;
  }

  protected override async revokeReplayed(grantId: string, doc: ArtifactDoc): Promise<void> {
    await this.revokeFamily(grantId);
    const ctx = Provider.ctx;
    if (ctx) await recordReuse(this.#events, ctx, doc, doc.supersededAt ? { superseded: true } : undefined);
  }

  async #reused(doc: ArtifactDoc): Promise<never> {
    if (doc.grantId) await this.revokeReplayed(doc.grantId, doc);
    throw new errors.InvalidGrant('refresh token already used');
  }

  /** The successor a retry would replace: only for the immediate predecessor of an unused
   * token, inside its window, never twice, never for a superseded token. */
  async #lostSuccessor(ctx: KoaContextWithOIDC, doc: ArtifactDoc): Promise<string | undefined> {
    if (doc.graceUsedAt || doc.supersededAt) return undefined;
    const { graceSeconds } = refreshPolicyFor(this.#settings, ctx.oidc.client);
    if (doc.consumedAt!.getTime() + graceSeconds * 1000 <= Date.now()) return undefined;
    const successor = await this.collection.findOne({ parentId: doc._id }, { projection: { consumedAt: 1 } });
    // No successor yet means its rotation is still in flight: a concurrent replay, not a lost response.
    return successor && !successor.consumedAt ? successor._id : undefined;
  }
}

/** The request context when this is the refresh_token grant: grace and reuse only apply
 * there (introspection and revocation see a used token as used), and expired-token events
 * only concern refresh attempts. */
function refreshGrantContext(): KoaContextWithOIDC | undefined {
  const ctx = Provider.ctx;
  return ctx?.oidc.route === 'token' && ctx.oidc.params?.grant_type === 'refresh_token' ? ctx : undefined;
}
