import { dropIndexes } from '../db/indexes.js';
import { GRANT_BOUND_MODELS, type ArtifactStore } from './store.js';

export interface ArtifactIndex {
  key: Record<string, 1 | -1>;
  name: string;
  sparse?: boolean;
  expireAfterSeconds?: number;
}

// TTL deletion lags (about a minute on mongod), so reads check expiresAt too.
const EXPIRY: ArtifactIndex = { key: { expiresAt: 1 }, name: 'expiresAt_ttl', expireAfterSeconds: 0 };

const lookup = (field: string): ArtifactIndex => ({ key: { [field]: 1 }, name: `${field}_1`, sparse: true });

/**
 * Each index serves a query that exists; every other one would only cost writes.
 * - grantId: revoking a grant (ours and oidc-provider's revokeByGrantId), and dating an app's last use.
 * - RefreshToken: its grant's newest tokens (issuedAt) for the account center and the admin
 *   API; the successor slot on parentId is the store's own (ArtifactStore.#ensureSuccessorSlots).
 * - Session: oidc-provider's findByUid, and the sessions of an account (account center, admin API, revocation).
 * - DeviceCode: oidc-provider's findByUserCode.
 * - Grant: the grants of an account, and of a client (when the client is deleted).
 * - ClientCredentials: a deleted client's tokens.
 */
const BY_MODEL: Record<string, readonly ArtifactIndex[]> = {
  RefreshToken: [
    { key: { grantId: 1, issuedAt: -1 }, name: 'grantId_1_issuedAt_-1' },
  ],
  Session: [lookup('uid'), lookup('accountId')],
  DeviceCode: [lookup('grantId'), lookup('userCode')],
  Grant: [lookup('accountId'), lookup('clientId')],
  ClientCredentials: [lookup('clientId')],
};

/** The indexes a model's collection should have, the expiry index included. */
export function artifactIndexes(model: string): ArtifactIndex[] {
  const own = BY_MODEL[model] ?? ((GRANT_BOUND_MODELS as readonly string[]).includes(model) ? [lookup('grantId')] : []);
  return [EXPIRY, ...own];
}

/** What earlier versions indexed on every model's collection: history, so never derived from today's fields. */
const EARLIER_LOOKUPS = ['grantId', 'uid', 'userCode', 'accountId', 'clientId', 'sessionUid'] as const;

/** The indexes earlier versions created on a model's collection that no query uses now. */
export function unusedArtifactIndexes(model: string): string[] {
  const wanted = new Set(artifactIndexes(model).map((index) => index.name));
  return EARLIER_LOOKUPS.map((field) => `${field}_1`).filter((name) => !wanted.has(name));
}

/** The migration that removes unusedArtifactIndexes from an existing deployment. */
export async function dropUnusedArtifactIndexes(store: ArtifactStore, models: readonly string[], warn: (line: string) => void): Promise<void> {
  for (const model of models) await dropIndexes(store.collection(model), unusedArtifactIndexes(model), warn);
}
