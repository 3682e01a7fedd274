import Provider, { type AdapterPayload, type KoaContextWithOIDC } from 'oidc-provider';

import { defaults } from '../../config/defaults.js';
import { pause } from '../db/deadline.js';
import { MongoAdapter } from './adapter.js';
import { abandoned, awaitDelivery, deliverBy } from './delivery.js';
import type { ArtifactDoc, ArtifactStore } from './store.js';

/** A code whose exchange answered an error: this request may exchange it again. */
interface Retry {
  jti: string;
  /** The failed exchange's `undelivered`, so of several retries exactly one wins. */
  seen: Date;
}

const retries = new WeakMap<KoaContextWithOIDC, Retry>();

/** Each failed attempt lost to another exchange whose answer then never left; a bound all the same. */
const MAX_CONSUME_ATTEMPTS = 3;

/**
 * AuthorizationCode storage whose exchange can be retried after a failed answer.
 *
 * oidc-provider consumes the code before it issues the tokens, so an exchange that then
 * fails (a slow database, a killed process) used the code up. Here consuming also records
 * that the answer has not left yet (`undelivered`, src/oidc/delivery.ts); once the 200 has
 * been sent that mark goes. A code consumed by an answer that never left reads as unused
 * to the client's retry, which consumes it again with one conditional update; the refresh
 * token the failed exchange may have stored is superseded by the retry's own (the code's
 * slot, src/oidc/refresh-chain.ts). A code whose exchange was delivered is a replay, and
 * oidc-provider revokes its grant as before.
 */
export class CodeAdapter extends MongoAdapter {
  constructor(store: ArtifactStore) {
    super(store, 'AuthorizationCode');
  }

  override async find(id: string): Promise<AdapterPayload | undefined> {
    const ctx = codeExchangeContext();
    const doc = await this.collection.findOne({ _id: id });
    if (!doc || this.isExpired(doc)) return undefined;
    if (!ctx || !doc.undelivered) return this.toPayload(doc);
    const settled = await this.#settled(doc);
    if (!settled) return undefined;
    const payload = this.toPayload(settled);
    if (!settled.undelivered) return payload;
    retries.set(ctx, { jti: id, seen: settled.undelivered });
    delete payload.consumed;
    return payload;
  }

  override async consume(id: string): Promise<void> {
    const ctx = Provider.ctx;
    let retry = ctx && retries.get(ctx);
    const by = deliverBy();
    for (let attempt = 0; attempt < MAX_CONSUME_ATTEMPTS; attempt += 1) {
      const unused = retry?.jti === id ? { undelivered: retry.seen } : { consumedAt: { $exists: false } };
      const result = await this.collection.updateOne({ _id: id, ...unused }, { $set: { consumedAt: new Date(), undelivered: by } });
      if (result.matchedCount > 0) {
        if (ctx) awaitDelivery(ctx.res, by, () => this.#delivered(id, by));
        return;
      }
      // Another exchange got there between our read and this update: judge it by its outcome.
      const current = await this.collection.findOne({ _id: id });
      const settled = current?.undelivered ? await this.#settled(current) : undefined;
      if (!settled?.undelivered) break;
      retry = { jti: id, seen: settled.undelivered };
    }
    return this.lostConsumeRace(id);
  }

  /** The code once another exchange's answer has left or can no longer leave (null: gone). */
  async #settled(doc: ArtifactDoc): Promise<ArtifactDoc | null> {
    let current: ArtifactDoc | null = doc;
    while (current?.undelivered && !abandoned(current.undelivered)) {
      await pause(defaults.operations.deliveryPollMs);
      current = await this.collection.findOne({ _id: doc._id });
    }
    return current;
  }

  async #delivered(id: string, by: Date): Promise<void> {
    await this.collection.updateOne({ _id: id, undelivered: by }, { $unset: { undelivered: '' } });
  }
}

function codeExchangeContext(): KoaContextWithOIDC | undefined {
  const ctx = Provider.ctx;
  return ctx?.oidc.route === 'token' && ctx.oidc.params?.grant_type === 'authorization_code' ? ctx : undefined;
}
