import type { Collection } from 'mongoose';

import type { FederatedSignInRecord } from './records.js';

/**
 * Which connector a sign-in came through, for the ID token's `idp`. oidc-provider carries
 * a sign-in's account and second (`loginTs`, the token's `authTime`) into every code and
 * refresh token, but no claim of ours, so we note the connector under that pair. Kept as
 * long as a grant (refreshes re-issue ID tokens for the same sign-in).
 */
export class FederatedSignIns {
  readonly #collection: Collection<FederatedSignInRecord>;
  readonly #ttlSeconds: number;

  constructor(collection: Collection<FederatedSignInRecord>, ttlSeconds: number) {
    this.#collection = collection;
    this.#ttlSeconds = ttlSeconds;
  }

  async record(accountId: string, loginTs: number, idp: string): Promise<void> {
    const expires_at = new Date((loginTs + this.#ttlSeconds) * 1000);
    await this.#collection.updateOne({ _id: key(accountId, loginTs) }, { $set: { idp, expires_at } }, { upsert: true });
  }

  /** The connector's name for a federated sign-in (`amr` holds `fed`), else undefined. */
  async idpOf(accountId: string, token: { amr?: string[]; authTime?: number } | undefined): Promise<string | undefined> {
    if (!token?.amr?.includes('fed') || token.authTime === undefined) return undefined;
    return (await this.#collection.findOne({ _id: key(accountId, token.authTime) }))?.idp;
  }
}

function key(accountId: string, loginTs: number): string {
  return `${accountId}:${loginTs}`;
}
