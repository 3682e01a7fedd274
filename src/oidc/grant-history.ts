import type { mongo } from 'mongoose';

import { parsePayload, type ArtifactDoc, type ArtifactStore } from './store.js';

/**
 * When a grant was last used, read from the lifted `issuedAt` of its newest token: one
 * document per model, however many rotations the grant has had (index
 * grantId_1_issuedAt_-1 on refresh tokens, src/oidc/artifact-indexes.ts). Ended refresh
 * tokens (tombstones) and fences carry no grantId, so they never count.
 */
async function newestIssue(store: ArtifactStore, model: string, filter: mongo.Filter<ArtifactDoc>): Promise<number | undefined> {
  const collection = store.collection(model);
  const newest = await collection.findOne(filter, { sort: { issuedAt: -1 }, projection: { issuedAt: 1 } });
  if (!newest) return undefined;
  if (newest.issuedAt) return Math.floor(newest.issuedAt.getTime() / 1000);
  // Sorted last when absent: none of these was stored with it (an earlier version wrote
  // them). Their payloads are read until they expire.
  const docs = await collection.find(filter, { projection: { payload: 1 } }).toArray();
  const iat = Math.max(0, ...docs.map((doc) => parsePayload<{ iat?: number }>(doc).iat ?? 0));
  return iat > 0 ? iat : undefined;
}

/** The last refresh of the grant: the issue time of its newest token that a refresh issued (rotations > 0). */
export function lastRefreshIssue(store: ArtifactStore, grantId: string): Promise<number | undefined> {
  return newestIssue(store, 'RefreshToken', { grantId, rotations: { $gt: 0 } });
}

/** The newest token issued under the grant (a code exchange or a refresh). JWT access tokens
 * are not stored; each comes with a refresh token or from a stored code, so this dates them. */
export async function lastTokenIssue(store: ArtifactStore, grantId: string): Promise<number | undefined> {
  const issued = await Promise.all(['RefreshToken', 'AccessToken', 'AuthorizationCode'].map((model) => newestIssue(store, model, { grantId })));
  const newest = Math.max(0, ...issued.map((iat) => iat ?? 0));
  return newest > 0 ? newest : undefined;
}
