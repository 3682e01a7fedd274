import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection } from 'mongoose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadSettings } from '../../src/config/settings.js';
import { connectDatabase } from '../../src/db/connection.js';
import { accountModel } from '../../src/db/models/account.js';
import { securityEventModel } from '../../src/db/models/security-event.js';
import { Accounts } from '../../src/oidc/accounts.js';
import { ArtifactStore } from '../../src/oidc/store.js';
import { SEEDED, startServerProcess, type ServerProcess } from '../support/process.js';
import { codeFlow, createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { freePort, freshDatabaseUri, TEST_ENV } from '../support/server.js';

type Outcome = { ok: true; refreshToken: string } | { ok: false; status: number; error: string };
const INVALID_GRANT = { ok: false, status: 400, error: 'invalid_grant' };

async function refresh(config: client.Configuration, token: string): Promise<Outcome> {
  try {
    const tokens = await client.refreshTokenGrant(config, token);
    return { ok: true, refreshToken: tokens.refresh_token! };
  } catch (err) {
    if (err instanceof client.ResponseBodyError) return { ok: false, status: err.status, error: err.error };
    throw err;
  }
}

async function refreshed(config: client.Configuration, token: string): Promise<string> {
  const outcome = await refresh(config, token);
  if (!outcome.ok) throw new Error(`refresh failed: ${outcome.error}`);
  return outcome.refreshToken;
}

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
    user = await createUser({ accounts: new Accounts(accountModel(connection), loadSettings(TEST_ENV).password) });
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

  async function family() {
    const rp = await registerClient({ store, issuer: a.issuer }, { scope: 'openid offline_access' });
    const { tokens } = await codeFlow(rp, { scope: 'openid offline_access', params: { prompt: 'consent' }, login: user });
    return { rp, onA: rp.config, onB: viaB(rp), first: tokens.refresh_token! };
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

    const events = securityEventModel(connection);
    let reuse = await events.find({ clientId: rp.clientId, type: 'refresh_token.reuse_detected' }).lean();
    for (let i = 0; i < 50 && reuse.length === 0; i += 1) {
      await sleep(50);
      reuse = await events.find({ clientId: rp.clientId, type: 'refresh_token.reuse_detected' }).lean();
    }
    expect(reuse[0]).toMatchObject({ accountId: user.sub, grantId: expect.any(String) });
    // B, not A, saw the replay (each instance logs the events it records).
    expect(b.output()).toContain(`"type":"refresh_token.reuse_detected","accountId":"${user.sub}","clientId":"${rp.clientId}"`);
  });

  it('lets exactly one of 20 refreshes split over both instances win', async () => {
    const { onA, onB, first } = await family();
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => refresh(i % 2 ? onB : onA, first)));
    const winners = outcomes.filter((o): o is Extract<Outcome, { ok: true }> => o.ok);
    expect(winners).toHaveLength(1);
    expect(outcomes.filter((o) => !o.ok)).toEqual(Array(19).fill(INVALID_GRANT));
    expect(await refresh(onB, winners[0]!.refreshToken)).toEqual(INVALID_GRANT);
  });
});
