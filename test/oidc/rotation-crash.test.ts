import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadSettings } from '../../src/config/settings.js';
import { connectDatabase } from '../../src/db/connection.js';
import { accountModel } from '../../src/db/models/account.js';
import { securityEventModel } from '../../src/db/models/security-event.js';
import { Accounts } from '../../src/oidc/accounts.js';
import { ArtifactStore } from '../../src/oidc/store.js';
import { grantOf, liveRefreshTokens } from '../support/chains.js';
import { SEEDED, startServerProcess, type ServerProcess } from '../support/process.js';
import { eventsOf, offlineTokens, postToken } from '../support/refresh.js';
import { createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { freePort, freshDatabaseUri, TEST_ENV } from '../support/server.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/**
 * An instance killed (SIGKILL, no shutdown) in the middle of rotations: one whose successor
 * is already stored but whose answer never left, one still reading. A fresh process on the
 * same database must serve the clients' retries with the tokens they hold.
 */
describe('an instance killed mid-rotation', () => {
  let proxy: TcpProxy;
  let env: Record<string, string>;
  let server: ServerProcess;
  let connection: Connection;
  let store: ArtifactStore;
  let user: Awaited<ReturnType<typeof createUser>>;

  beforeAll(async () => {
    const direct = freshDatabaseUri('rotation_crash');
    proxy = await TcpProxy.start(direct);
    const port = await freePort();
    env = {
      PORT: String(port), ISSUER: `http://127.0.0.1:${port}`, MONGODB_URI: proxy.rewrite(direct),
      DATA_DIR: await mkdtemp(path.join(tmpdir(), 'oidc-crash-')), METRICS_PORT: '0',
    };
    server = await startServerProcess({ env, ready: SEEDED });
    connection = await connectDatabase(direct);
    store = new ArtifactStore(connection);
    user = await createUser({ accounts: new Accounts(accountModel(connection), loadSettings(TEST_ENV).password) });
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
    await connection?.close();
    await proxy?.close();
  });

  async function chain(): Promise<{ rp: RegisteredClient; token: string; grantId: string }> {
    const rp = await registerClient({ store, issuer: server.issuer }, { scope: 'openid offline_access' });
    const { refreshToken } = await offlineTokens(rp, user);
    return { rp, token: refreshToken, grantId: await grantOf(store, refreshToken) };
  }

  const refreshWith = (rp: RegisteredClient, token: string) =>
    postToken(server.issuer, rp, { grant_type: 'refresh_token', refresh_token: token });

  it('leaves every chain retryable on the next process', async () => {
    const stored = await chain();
    const reading = await chain();
    // The first refresh's successor reaches the database; its answer is held until the kill.
    const saved = proxy.failReply({ command: 'insert', collection: 'oidc_refresh_token' }, { delayMs: 60_000 });
    const lost = [refreshWith(stored.rp, stored.token).catch(() => undefined)];
    await saved;
    await waitFor(async () => (await store.collection('RefreshToken').countDocuments({ parentId: stored.token })) === 1);
    // The second is past its token read, waiting on its grant.
    const reads = proxy.failReply({ command: 'find', collection: 'oidc_grant' }, { delayMs: 60_000 });
    lost.push(refreshWith(reading.rp, reading.token).catch(() => undefined));
    await reads;

    server.signal('SIGKILL');
    await server.exited;
    await Promise.all(lost);
    proxy.clearFaults();
    server = await startServerProcess({ env, ready: SEEDED });

    for (const { rp, token, grantId } of [stored, reading]) {
      const retried = await refreshWith(rp, token);
      expect(retried.status).toBe(200);
      const next = (retried.body as { refresh_token: string }).refresh_token;
      expect((await liveRefreshTokens(store, grantId)).map((d) => d._id)).toEqual([next]);
      expect((await refreshWith(rp, next)).status).toBe(200);
      expect(await eventsOf(securityEventModel(connection), rp.clientId, 'refresh_token.reuse_detected', 0)).toHaveLength(0);
    }
  }, 120_000);
});

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i += 1) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error('condition not reached');
}
