import type { CommandSucceededEvent } from 'mongodb';
import type { Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { connectDatabase } from '../../src/db/connection.js';
import { lastRefreshIssue, lastTokenIssue } from '../../src/oidc/grant-history.js';
import { ALL_MODELS, ArtifactStore, type ArtifactDoc } from '../../src/oidc/store.js';
import { freshDatabaseUri } from '../support/server.js';

/**
 * When a grant was last used is read from its live refresh tokens: a grant refreshed
 * hundreds of times costs one document per chain, not one per rotation.
 */
let connection: Connection;
let store: ArtifactStore;
/** Documents each refresh-token read returned. */
const returned: number[] = [];

beforeAll(async () => {
  connection = await connectDatabase(freshDatabaseUri('grant_history'));
  store = new ArtifactStore(connection);
  await store.ensureIndexes(ALL_MODELS);
  connection.getClient().on('commandSucceeded', (event: CommandSucceededEvent) => {
    const batch = (event.reply as { cursor?: { firstBatch?: unknown[]; nextBatch?: unknown[] } }).cursor;
    if (event.commandName === 'find' || event.commandName === 'getMore') returned.push((batch?.firstBatch ?? batch?.nextBatch ?? []).length);
  });
});

afterAll(async () => {
  await connection?.close();
});

const start = Math.floor(Date.now() / 1000) - 100_000;

/** A chain of `length` tokens rotated one from the other, stored as the adapter stores them
 * (`legacy`: as an earlier version did, without issuedAt). */
function chain(grantId: string, name: string, length: number, issuedFrom: number, legacy = false): ArtifactDoc[] {
  return Array.from({ length }, (_, i) => ({
    _id: `${grantId}-${name}-${i}`,
    payload: JSON.stringify({ iat: issuedFrom + i * 60, grantId, kind: 'RefreshToken', rotations: i }),
    grantId,
    rotations: i,
    ...(legacy ? {} : { issuedAt: new Date((issuedFrom + i * 60) * 1000) }),
    ...(i > 0 ? { parentId: `${grantId}-${name}-${i - 1}` } : {}),
  }));
}

describe('a grant\'s last use', () => {
  it('is the newest live refresh token of its chains, read without its past rotations', async () => {
    await store.collection('RefreshToken').insertMany([...chain('g1', 'a', 500, start), ...chain('g1', 'b', 3, start + 90_000)]);
    // An ended token (a tombstone) names no grant and never counts.
    await store.collection('RefreshToken').insertOne({ _id: 'g1-ended', payload: '{}', fence: true, issuedAt: new Date() });
    returned.length = 0;
    // Chain b, signed in later, holds the newest token.
    expect(await lastRefreshIssue(store, 'g1')).toBe(start + 90_000 + 2 * 60);
    expect(await lastTokenIssue(store, 'g1')).toBe(start + 90_000 + 2 * 60);
    expect(returned.reduce((sum, n) => sum + n, 0)).toBe(2);
  });

  it('counts only tokens a refresh issued as refreshes', async () => {
    await store.collection('RefreshToken').insertMany(chain('g2', 'a', 1, start));
    expect(await lastRefreshIssue(store, 'g2')).toBeUndefined();
    expect(await lastTokenIssue(store, 'g2')).toBe(start);
  });

  it('is dated by a newer authorization code or stored access token', async () => {
    await store.collection('RefreshToken').insertMany(chain('g3', 'a', 4, start));
    const iat = start + 5_000;
    await store.collection('AuthorizationCode').insertOne({ _id: 'code-g3', payload: JSON.stringify({ iat }), grantId: 'g3', issuedAt: new Date(iat * 1000) });
    expect(await lastTokenIssue(store, 'g3')).toBe(start + 5_000);
    expect(await lastRefreshIssue(store, 'g3')).toBe(start + 180);
  });

  it('is read from the payloads of tokens stored before issuedAt was', async () => {
    await store.collection('RefreshToken').insertMany(chain('g4', 'a', 5, start, true));
    expect(await lastRefreshIssue(store, 'g4')).toBe(start + 4 * 60);
  });
});
