import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Connection } from 'mongoose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { connectDatabase } from '../../src/db/connection.js';
import { accountModel } from '../../src/db/models/account.js';
import { securityEventModel } from '../../src/db/models/security-event.js';
import { Accounts } from '../../src/oidc/accounts.js';
import { ArtifactStore } from '../../src/oidc/store.js';
import { SEEDED, startServerProcess, type ServerProcess } from '../support/process.js';
import { eventsOf, INVALID_GRANT, offlineTokens, refresh, refreshed, type RefreshOutcome } from '../support/refresh.js';
import { createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { freePort, freshDatabaseUri, TEST_ENV } from '../support/server.js';

/** Two provider processes behind one issuer (as behind a load balancer) on one database. */
describe('refresh-token rotation across two server processes', () => {
  let a: ServerProcess;
  let b: ServerProcess;
  let connection: Connection;
  let store: ArtifactStore;
  let user: Awaited<ReturnType<typeof createUser>>;

  beforeAll(async () => {
    const mongoUri = freshDatabaseUri('cross_instance');
    const dataDir = await mkdtemp(path.join(tmpdir(), 'oidc-cross-'));
    const issuer = `http://127.0.0.1:${await freePort()}`;
    const shared = { MONGODB_URI: mongoUri, DATA_DIR: dataDir, ISSUER: issuer };
    // One after the other: the first generates the shared keys and seeds demo data.
    a = await startServerProcess({ env: { ...shared, PORT: new URL(issuer).port }, ready: SEEDED });
    b = await startServerProcess({ env: shared, ready: SEEDED });
    connection = await connectDatabase(mongoUri);
    store = new ArtifactStore(connection);
    user = await createUser({ accounts: new Accounts(accountModel(connection), Number(TEST_ENV.SCRYPT_N)) });
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await connection?.close();
  });

  /** The same relying party, sending its token requests to instance B instead of A. */
  function viaB(rp: RegisteredClient): client.Configuration {
    const { supportsPKCE: _helper, ...discovered } = rp.config.serverMetadata();
    const metadata = { ...discovered, token_endpoint: `http://127.0.0.1:${b.port}/token` };
    const config = new client.Configuration(metadata, rp.clientId, {}, client.ClientSecretBasic(rp.clientSecret!));
    client.allowInsecureRequests(config);
    return config;
  }

  async function family(metadata: Parameters<typeof registerClient>[1] = {}) {
    const rp = await registerClient({ store, issuer: a.issuer }, { scope: 'openid offline_access', ...metadata });
    const { refreshToken } = await offlineTokens(rp, user);
    return { rp, onA: rp.config, onB: viaB(rp), first: refreshToken };
  }

  it('serves one family from either instance: a token rotated on A refreshes on B', async () => {
    const { onA, onB, first } = await family();
    expect(a.port).not.toBe(b.port);
    const second = await refreshed(onA, first);
    const third = await refreshed(onB, second);
    expect(await refresh(onA, third)).toMatchObject({ ok: true });
  });

  it('detects a token rotated on one instance and replayed on the other, and revokes the family', async () => {
    const { rp, onA, onB, first } = await family();
    const second = await refreshed(onA, first);
    expect(await refresh(onB, first)).toEqual(INVALID_GRANT);
    expect(await refresh(onA, second)).toEqual(INVALID_GRANT);

    const reuse = await eventsOf(securityEventModel(connection), rp.clientId, 'refresh_token.reuse_detected');
    expect(reuse[0]).toMatchObject({ accountId: user.sub, grantId: expect.any(String) });
    // B, not A, saw the replay (each instance logs the events it records).
    expect(b.output()).toContain(`"type":"refresh_token.reuse_detected","accountId":"${user.sub}","clientId":"${rp.clientId}"`);
  });

  it('lets exactly one of 20 refreshes split over both instances win', async () => {
    const { onA, onB, first } = await family();
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => refresh(i % 2 ? onB : onA, first)));
    const winners = outcomes.filter((o): o is Extract<RefreshOutcome, { ok: true }> => o.ok);
    expect(winners).toHaveLength(1);
    expect(outcomes.filter((o) => !o.ok)).toEqual(Array(19).fill(INVALID_GRANT));
    expect(await refresh(onB, winners[0]!.refreshToken)).toEqual(INVALID_GRANT);
  });

  it("ends a thief's grace retry on one instance when the legitimate holder refreshes on the other", async () => {
    const { rp, onA, onB, first } = await family({ refresh_token_grace_period: 60 });
    const second = await refreshed(onA, first);
    const stolen = await refresh(onB, first);
    expect(stolen).toMatchObject({ ok: true });
    expect(await refresh(onA, second)).toEqual(INVALID_GRANT);
    if (stolen.ok) expect(await refresh(onB, stolen.refreshToken)).toEqual(INVALID_GRANT);
    const [reuse] = await eventsOf(securityEventModel(connection), rp.clientId, 'refresh_token.reuse_detected');
    expect(reuse).toMatchObject({ detail: { superseded: true } });
  });
});
