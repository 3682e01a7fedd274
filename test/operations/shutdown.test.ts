import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Connection } from 'mongoose';
import * as client from 'openid-client';
import { afterAll, describe, expect, it } from 'vitest';

import { loadSettings } from '../../src/config/settings.js';
import { connectDatabase } from '../../src/db/connection.js';
import { accountModel } from '../../src/db/models/account.js';
import { Accounts } from '../../src/oidc/accounts.js';
import { ArtifactStore } from '../../src/oidc/store.js';
import { SEEDED, startServerProcess, type ServerProcess } from '../support/process.js';
import { codeFlow, createUser, registerClient } from '../support/relying-party.js';
import { freePort, freshDatabaseUri, startServer, TEST_ENV } from '../support/server.js';
import { TcpProxy } from '../support/tcp-proxy.js';

let server: ServerProcess | undefined;
let connection: Connection | undefined;
let proxy: TcpProxy | undefined;

afterAll(async () => {
  await server?.stop();
  await connection?.close();
  await proxy?.close();
});

describe('graceful shutdown', () => {
  it('lets a request in flight at SIGTERM complete, refuses new connections and exits 0', async () => {
    const direct = freshDatabaseUri('shutdown');
    proxy = await TcpProxy.start(direct);
    const port = await freePort();
    server = await startServerProcess({
      env: {
        PORT: String(port), MONGODB_URI: proxy.rewrite(direct), METRICS_PORT: '0',
        DATA_DIR: await mkdtemp(path.join(tmpdir(), 'oidc-shutdown-')),
      },
      ready: SEEDED,
    });
    connection = await connectDatabase(direct);
    const rp = await registerClient({ store: new ArtifactStore(connection), issuer: server.issuer });
    const user = await createUser({ accounts: new Accounts(accountModel(connection), loadSettings(TEST_ENV).password) });
    const { tokens } = await codeFlow(rp, { scope: 'openid offline_access', params: { prompt: 'consent' }, login: user });

    // Every MongoDB round trip now takes a while: a refresh (five commands before its answer)
    // is slow, yet within the request's 1 s budget for database waits.
    proxy.slowMs = 50;
    await proxy.set('slow');
    const started = performance.now();
    const inFlight = client.refreshTokenGrant(rp.config, tokens.refresh_token!);
    await new Promise((resolve) => setTimeout(resolve, 200));
    server.signal('SIGTERM');

    const rotated = await inFlight;
    expect(performance.now() - started).toBeGreaterThan(200);
    expect(rotated.refresh_token).toBeTruthy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await expect(fetch(`${server.issuer}/health/alive`)).rejects.toThrow();
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('shutdown complete');
  }, 90_000);

  it('turns readiness to 503 the moment draining begins', async () => {
    const local = await startServer();
    try {
      expect((await fetch(`${local.issuer}/health/ready`)).status).toBe(200);
      local.readiness.drain();
      const res = await fetch(`${local.issuer}/health/ready`);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(await res.json()).toEqual({ status: 'unavailable', error: 'shutting_down' });
      expect((await fetch(`${local.issuer}/health/alive`)).status).toBe(200);
    } finally {
      await local.close();
    }
  });
});
