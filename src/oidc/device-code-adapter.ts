import Provider, { errors, type AdapterPayload } from 'oidc-provider';

import { defaults } from '../../config/defaults.js';
import { MongoAdapter } from './adapter.js';
import type { ArtifactDoc, ArtifactStore } from './store.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * DeviceCode storage for the device authorization grant (RFC 8628).
 *
 * Expired codes are returned, not hidden: oidc-provider checks expiry itself and tells the
 * device `expired_token`, and the person typing an old code "expired" rather than "wrong".
 *
 * Polling: oidc-provider answers every early poll `authorization_pending`, whatever its pace.
 * Each poll here stamps the code in one atomic update that returns the previous stamp, and a
 * poll sooner than the interval after the one before is told `slow_down` (§3.5), so a device
 * cannot turn the token endpoint into a busy loop, however many instances it reaches.
 */
export class DeviceCodeAdapter extends MongoAdapter {
  constructor(store: ArtifactStore) {
    super(store, 'DeviceCode');
  }

  override async find(id: string): Promise<AdapterPayload | undefined> {
    if (!isDevicePoll()) return this.readable(await this.collection.findOne({ _id: id }));
    const now = new Date();
    const before = await this.collection.findOneAndUpdate({ _id: id }, { $set: { polledAt: now } }, { returnDocument: 'before' });
    const interval = defaults.protocols.deviceFlow.pollIntervalSeconds * 1000;
    if (before?.polledAt && now.getTime() - before.polledAt.getTime() < interval) throw new errors.SlowDown();
    return this.readable(before);
  }

  override async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.readable(await this.collection.findOne({ userCode }));
  }

  private readable(doc: ArtifactDoc | null): AdapterPayload | undefined {
    return doc ? this.toPayload(doc) : undefined;
  }
}

function isDevicePoll(): boolean {
  const ctx = Provider.ctx;
  return ctx?.oidc.route === 'token' && ctx.oidc.params?.grant_type === DEVICE_GRANT;
}
