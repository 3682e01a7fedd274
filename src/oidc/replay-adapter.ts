import type { AdapterPayload } from 'oidc-provider';

import { defaults } from '../../config/defaults.js';
import { MongoAdapter } from './adapter.js';
import type { ArtifactStore } from './store.js';

/**
 * oidc-provider's ReplayDetection.unique() (DPoP proofs, client assertions) reads the id,
 * then saves it: two instances handed the same proof at once could both read nothing and
 * both accept it. Here the read itself claims the id with one insert, so exactly one caller
 * ever finds it absent; the save that follows only sets the real expiry.
 */
export class ReplayAdapter extends MongoAdapter {
  constructor(store: ArtifactStore) {
    super(store, 'ReplayDetection');
  }

  override async find(id: string): Promise<AdapterPayload | undefined> {
    const claimUntil = new Date(Date.now() + defaults.protocols.replayClaimSeconds * 1000);
    try {
      await this.collection.insertOne({ _id: id, payload: '{}', expiresAt: claimUntil });
      return undefined;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 11000) throw err;
      return { jti: id };
    }
  }
}
