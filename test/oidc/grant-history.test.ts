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

/** A chain of `length` tokens rotated one from the other, every one consumed but the last. */
function chain(grantId: string, name: string, length: number, issuedFrom: number): ArtifactDoc[] {
  return Array.from({ length }, (_, i) => ({
    _id: `${grantId}-${name}-${i}`,
    payload: JSON.stringify({ iat: issuedFrom + i * 60, grantId, kind: 'RefreshToken', rotations: i }),
    grantId,
    rotations: i,
    ...(i > 0 ? { parentId: `${grantId}-${name}-${i - 1}` } : {}),
    ...(i < length - 1 ? { consumedAt: new Date((issuedFrom + (i + 1) * 60) * 1000) } : {}),
  }));
}

describe('a grant\'s last use', () => {
  it('is the newest live refresh token of its chains, read without its past rotations', async () => {
    await store.collection('RefreshToken').insertMany([...chain('g1', 'a', 500, start), ...chain('g1', 'b', 3, start + 90_000)]);
    returned.length = 0;
    // Chain b, signed in later, holds the newest token.
    expect(await lastRefreshIssue(store, 'g1')).toBe(start + 90_000 + 2 * 60);
    expect(await lastTokenIssue(store, 'g1')).toBe(start + 90_000 + 2 * 60);
    expect(returned.reduce((sum, n) => sum + n, 0)).toBe(4);
  });

  it('counts only tokens a refresh issued as refreshes', async () => {
    await store.collection('RefreshToken').insertMany(chain('g2', 'a', 1, start));
    expect(await lastRefreshIssue(store, 'g2')).toBeUndefined();
    expect(await lastTokenIssue(store, 'g2')).toBe(start);
  });

  it('is dated by a newer authorization code or stored access token', async () => {
    await store.collection('RefreshToken').insertMany(chain('g3', 'a', 4, start));
    await store.collection('AuthorizationCode').insertOne({ _id: 'code-g3', payload: JSON.stringify({ iat: start + 5_000 }), grantId: 'g3' });
    expect(await lastTokenIssue(store, 'g3')).toBe(start + 5_000);
    expect(await lastRefreshIssue(store, 'g3')).toBe(start + 180);
  });
});
