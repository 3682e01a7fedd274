import Provider, { errors, type AdapterPayload, type KoaContextWithOIDC } from 'oidc-provider';

import type { Settings } from '../config/settings.js';
import type { SecurityEvents } from '../security/events.js';
import { MongoAdapter } from './adapter.js';
import { refreshEventInput } from './refresh-audit.js';
import { refreshPolicyFor } from './refresh-policy.js';
import type { ArtifactDoc, ArtifactStore } from './store.js';

/** A consumed token this request may present once more (the retry grace period). */
interface GraceRetry {
  jti: string;
  grantId: string;
  /** `rotations` of the successor that the client never received. */
  successorRotations: number;
}

/** Marks live only as long as the request context does. */
const graceRetries = new WeakMap<KoaContextWithOIDC, GraceRetry>();

/**
 * RefreshToken storage with the retry grace period (Ory Hydra / Cognito style) layered on
 * MongoAdapter, without touching oidc-provider's grant logic: within the window, the
 * immediate predecessor of the family's live token reads as not yet consumed, so the grant
 * handler rotates it again; the successor the client lost is then deleted so the family
 * keeps a single live head. Anything older, or a second retry, stays consumed and
 * oidc-provider revokes the family as reuse.
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
    const ctx = tokenEndpointContext();
    if (this.isExpired(doc)) {
      if (!ctx) return undefined;
      await this.#events.record('refresh_token.expired_use', refreshEventInput(ctx, doc));
      // Returned as is: the grant handler reads it with ignoreExpiration and answers "expired".
      return this.toPayload(doc);
    }
    if (!doc.consumedAt || !ctx || !(await this.#mayRetry(ctx, doc))) return this.toPayload(doc);

    graceRetries.set(ctx, { jti: id, grantId: doc.grantId!, successorRotations: (doc.rotations ?? 0) + 1 });
    const payload = this.toPayload(doc);
    delete payload.consumed;
    return payload;
  }

  override async consume(id: string): Promise<void> {
    const retry = currentRetry(id);
    if (!retry) return super.consume(id);
    // Allowed once: two retries racing with the same token cannot both get a new pair.
    const result = await this.collection.updateOne(
      { _id: id, graceUsedAt: { $exists: false } },
      { $set: { graceUsedAt: new Date() } },
    );
    if (result.matchedCount === 0) await this.lostConsumeRace(id);
  }

  override async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    await super.upsert(id, payload, expiresIn);
    const ctx = Provider.ctx;
    const retry = ctx && graceRetries.get(ctx);
    if (!ctx || !retry || payload.grantId !== retry.grantId) return;
    graceRetries.delete(ctx);

    const lost = await this.collection.deleteMany({
      grantId: retry.grantId,
      rotations: retry.successorRotations,
      consumedAt: { $exists: false },
      _id: { $ne: id },
    });
    if (lost.deletedCount === 0) {
      // The "lost" successor was used meanwhile: the client had it after all, so this is a replay.
      await this.revokeFamily(retry.grantId);
      throw new errors.InvalidGrant('refresh token already used');
    }
    this.#graceRetries += 1;
    await this.#events.record('refresh_token.grace_retry', refreshEventInput(ctx, { ...payload, grantId: retry.grantId }));
  }

  /** Only the immediate predecessor of an unused head, inside its window, never twice. */
  async #mayRetry(ctx: KoaContextWithOIDC, doc: ArtifactDoc): Promise<boolean> {
    const client = ctx.oidc.client;
    if (!client || client.clientId !== doc.clientId || !doc.grantId || doc.graceUsedAt) return false;
    const { graceSeconds } = refreshPolicyFor(this.#settings, client);
    if (graceSeconds === 0 || doc.consumedAt!.getTime() + graceSeconds * 1000 <= Date.now()) return false;

    const later = await this.collection
      .find({ grantId: doc.grantId, rotations: { $gt: doc.rotations ?? 0 } }, { projection: { consumedAt: 1 } })
      .toArray();
    // No successor yet means its rotation is still in flight: a concurrent replay, not a lost response.
    return later.length > 0 && later.every((successor) => !successor.consumedAt);
  }
}

/** The request context when this is a token-endpoint call; grace never applies to
 * introspection or revocation, and expired-token events only concern refresh attempts. */
function tokenEndpointContext(): KoaContextWithOIDC | undefined {
  const ctx = Provider.ctx;
  return ctx?.oidc.route === 'token' ? ctx : undefined;
}

function currentRetry(id: string): GraceRetry | undefined {
  const ctx = Provider.ctx;
  const retry = ctx && graceRetries.get(ctx);
  return retry?.jti === id ? retry : undefined;
}
