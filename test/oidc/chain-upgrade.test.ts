import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { setTimeout as settleFor } from 'node:timers/promises';

import { connectDatabase } from '../../src/db/connection.js';
import { ALL_MODELS, type ArtifactDoc } from '../../src/oidc/store.js';
import { grantOf } from '../support/chains.js';
import { INVALID_GRANT, offlineTokens, refresh, refreshed } from '../support/refresh.js';
import { createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { freshDatabaseUri, startServer, type TestServer } from '../support/server.js';

/**
 * A database written by the previous version: used tokens marked `consumedAt`, a parentId
 * index without uniqueness, a grace retry's superseded successor left under its parent beside
 * the retry's, and a token consumed by a rotation whose save never happened. The server starts
 * on it, and every chain behaves as the new rules say.
 */
/** The delivery records follow the answers. */
const settle = () => settleFor(200);

describe('starting on refresh tokens stored by the previous version', () => {
  let server: TestServer;
  let rp: RegisteredClient;
  let user: Awaited<ReturnType<typeof createUser>>;
  let retired: string;
  let live: string;
  let stranded: string;

  beforeAll(async () => {
    const before = await startServer();
    user = await createUser(before);
    rp = await registerClient(before, { scope: 'openid offline_access' });
    retired = (await offlineTokens(rp, user)).refreshToken;
    live = await refreshed(rp.config, retired);
    stranded = (await offlineTokens(rp, user)).refreshToken;
    await settle();

    // The same records in a database laid out as before: copied, then aged.
    const mongoUri = freshDatabaseUri('chain_upgrade');
    const old = await connectDatabase(mongoUri);
    const source = before.store.collection('RefreshToken').conn.db!;
    const names = ['accounts', 'key_sets', ...ALL_MODELS.map((model) => before.store.collection(model).collectionName)];
    for (const name of names) {
      const docs = await source.collection(name).find({}).toArray();
      if (name === 'oidc_refresh_token') await old.db!.collection(name).createIndex({ parentId: 1 }, { name: 'parentId_1', sparse: true });
      if (docs.length > 0) await old.db!.collection(name).insertMany(docs);
    }
    const tokens = old.db!.collection<ArtifactDoc>('oidc_refresh_token');
    const now = new Date();
    await tokens.updateMany({ _id: { $in: [retired, stranded] } }, { $set: { consumedAt: now } });
    await tokens.updateMany({}, { $unset: { undelivered: '' } });
    const copy = (await tokens.findOne({ _id: live }))!;
    await tokens.insertOne({ ...copy, _id: 'superseded-by-an-old-grace-retry', supersededAt: now, consumedAt: now });
    await old.close();
    await before.close();

    server = await startServer({ mongoUri, port: Number(new URL(before.issuer).port), dataDir: before.dataDir });
  });

  afterAll(async () => { await server?.close(); });

  it('keeps the live token working and a replay of its predecessor is reuse', async () => {
    const grantId = await grantOf(server.store, live);
    const next = await refreshed(rp.config, live);
    expect(await refresh(rp.config, retired)).toEqual(INVALID_GRANT);
    expect(await refresh(rp.config, next)).toEqual(INVALID_GRANT);
    expect(await server.store.collection('Grant').countDocuments({ _id: grantId })).toBe(0);
  });

  it('lets a token whose rotation never saved a successor refresh again', async () => {
    const next = await refreshed(rp.config, stranded);
    expect(await refresh(rp.config, next)).toMatchObject({ ok: true });
  });

  it('holds one successor per token in the database from now on', async () => {
    // The old index is dropped where the server can (the wire emulator has no dropIndexes);
    // the unique one could only be built once the old duplicates had left their slot.
    const indexes = await server.store.collection('RefreshToken').indexes();
    expect(indexes.find((i) => i.name === 'parentId_slot')).toMatchObject({ unique: true });
    const tokens = server.store.collection('RefreshToken');
    expect(await tokens.findOne({ _id: 'superseded-by-an-old-grace-retry' })).not.toHaveProperty('parentId');
  });
});
