import type { mongo } from 'mongoose';

import { parsePayload, type ArtifactDoc, type ArtifactStore } from './store.js';

/**
 * When a grant was last used, read from the tokens that are still live: a rotation consumes
 * its predecessor and stores the successor, so the newest refresh token of each chain is its
 * one unconsumed token. A grant refreshed a thousand times is read as one document per
 * chain, never its whole history (index grantId_1_consumedAt_1, src/oidc/artifact-indexes.ts).
 */
function liveRefreshTokens(grantId: string, rotatedOnly: boolean): mongo.Filter<ArtifactDoc> {
  return { grantId, consumedAt: { $exists: false }, ...(rotatedOnly ? { rotations: { $gt: 0 } } : {}) };
}

/** The newest `iat` (epoch seconds) among the documents, or undefined. */
function newestIssue(docs: readonly Pick<ArtifactDoc, 'payload'>[]): number | undefined {
  const newest = Math.max(0, ...docs.map((doc) => parsePayload<{ iat?: number }>(doc).iat ?? 0));
  return newest > 0 ? newest : undefined;
}

/** The last refresh of the grant: the issue time of its newest token that a refresh issued (rotations > 0). */
export async function lastRefreshIssue(store: ArtifactStore, grantId: string): Promise<number | undefined> {
  return newestIssue(await store.collection('RefreshToken').find(liveRefreshTokens(grantId, true), { projection: { payload: 1 } }).toArray());
}

/** The newest token issued under the grant (a code exchange or a refresh). JWT access tokens
 * are not stored; each comes with a refresh token or from a stored code, so this dates them.
 * Codes and opaque access tokens live minutes, so all of theirs are few. */
export async function lastTokenIssue(store: ArtifactStore, grantId: string): Promise<number | undefined> {
  const docs = await Promise.all([
    store.collection('RefreshToken').find(liveRefreshTokens(grantId, false), { projection: { payload: 1 } }).toArray(),
    ...['AccessToken', 'AuthorizationCode'].map((model) => store.collection(model).find({ grantId }, { projection: { payload: 1 } }).toArray()),
  ]);
  return newestIssue(docs.flat());
}
