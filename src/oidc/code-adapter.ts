import Provider, { type AdapterPayload, type KoaContextWithOIDC } from 'oidc-provider';

import { defaults } from '../../config/defaults.js';
import { pause } from '../db/deadline.js';
import { MongoAdapter } from './adapter.js';
import { abandoned, awaitDelivery, deliverBy } from './delivery.js';
import type { ArtifactStore } from './store.js';

/** A code whose exchange answered an error: this request may exchange it again. */
interface Retry {
  jti: string;
  /** The failed exchange's `undelivered`, so of several retries exactly one wins. */
  seen: Date;
}

const retries = new WeakMap<KoaContextWithOIDC, Retry>();

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
    let doc = await this.collection.findOne({ _id: id });
    if (!ctx || !doc?.undelivered || this.isExpired(doc)) return doc && !this.isExpired(doc) ? this.toPayload(doc) : undefined;
    // Another exchange of this code is in flight: wait for its answer to leave, or not.
    while (doc?.undelivered && !abandoned(doc.undelivered)) {
      await pause(defaults.operations.deliveryPollMs);
      doc = await this.collection.findOne({ _id: id });
    }
    if (!doc) return undefined;
    const payload = this.toPayload(doc);
    if (!doc.undelivered) return payload;
    retries.set(ctx, { jti: id, seen: doc.undelivered });
    delete payload.consumed;
    return payload;
  }

  override async consume(id: string): Promise<void> {
    const ctx = Provider.ctx;
    const retry = ctx && retries.get(ctx);
    const by = deliverBy();
    const unused = retry?.jti === id ? { undelivered: retry.seen } : { consumedAt: { $exists: false } };
    const result = await this.collection.updateOne({ _id: id, ...unused }, { $set: { consumedAt: new Date(), undelivered: by } });
    if (result.matchedCount === 0) return this.lostConsumeRace(id);
    if (ctx) awaitDelivery(ctx.res, by, () => this.#delivered(id, by));
  }

  async #delivered(id: string, by: Date): Promise<void> {
    await this.collection.updateOne({ _id: id, undelivered: by }, { $unset: { undelivered: '' } });
  }
}

function codeExchangeContext(): KoaContextWithOIDC | undefined {
  const ctx = Provider.ctx;
  return ctx?.oidc.route === 'token' && ctx.oidc.params?.grant_type === 'authorization_code' ? ctx : undefined;
}
