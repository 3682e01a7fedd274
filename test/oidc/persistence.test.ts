import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Connection } from 'mongoose';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadSettings } from '../../src/config/settings.js';
import { connectDatabase } from '../../src/db/connection.js';
import { accountModel } from '../../src/db/models/account.js';
import { Accounts } from '../../src/oidc/accounts.js';
import { ArtifactStore } from '../../src/oidc/store.js';
import { startServerProcess, SEEDED, type ServerProcess } from '../support/process.js';
import { codeFlow, createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { freePort, freshDatabaseUri, TEST_ENV } from '../support/server.js';
import { UserAgent } from '../support/user-agent.js';

/**
 * Everything a user holds lives in MongoDB (sessions, interactions, grants, refresh tokens)
 * and the keys live in DATA_DIR, so a restart — or another instance — must not sign anyone out.
 * These tests run the server as real processes (`src/main.ts`) and restart it in between.
 */
let env: Record<string, string>;
let issuer: string;
let current: ServerProcess | undefined;
let connection: Connection;
let rp: RegisteredClient;
let user: Awaited<ReturnType<typeof createUser>>;

async function start(): Promise<ServerProcess> {
  // Wait for the development seed too, so the next instance never races it on the demo user.
  current = await startServerProcess({ env, ready: SEEDED });
  return current;
}

async function restart(): Promise<void> {
  await current!.stop();
  current = undefined;
  await start();
}

beforeAll(async () => {
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  env = {
    PORT: String(port),
    ISSUER: issuer,
    MONGODB_URI: freshDatabaseUri('persistence'),
    DATA_DIR: await mkdtemp(path.join(tmpdir(), 'oidc-persist-')),
  };
  await start();
  // Register the client and user the way an operator would: straight into the database.
  connection = await connectDatabase(env.MONGODB_URI!);
  rp = await registerClient({ store: new ArtifactStore(connection), issuer });
  user = await createUser({ accounts: new Accounts(accountModel(connection), loadSettings(TEST_ENV).password) });
});

afterAll(async () => {
  await current?.stop();
  await connection?.close();
});

/** Starts an authorization request; returns where the server sent the browser. */
async function authorize(agent: UserAgent, scope = 'openid'): Promise<{ url: string; html: string; verifier: string; state: string }> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(rp.config, {
    redirect_uri: rp.redirectUri, scope, state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  const step = await agent.follow(url, rp.redirectUri);
  return { url: step.url, html: step.url.startsWith(rp.redirectUri) ? '' : await step.res.text(), verifier, state };
}

describe('restarting the server', () => {
  it('keeps the browser session and the refresh token working', async () => {
    const agent = new UserAgent();
    const { tokens } = await codeFlow(rp, { agent, login: user, scope: 'openid offline_access', params: { prompt: 'consent' } });
    expect(tokens.refresh_token).toBeTruthy();

    await restart();

    // Same browser, already consented: straight back to the client, no login form.
    const again = await authorize(agent);
    expect(again.html).not.toContain('name="password"');
    expect(again.url.startsWith(rp.redirectUri)).toBe(true);
    const second = await client.authorizationCodeGrant(rp.config, new URL(again.url), {
      pkceCodeVerifier: again.verifier, expectedState: again.state, idTokenExpected: true,
    });
    expect(second.claims()!.sub).toBe(user.sub);
    // The signing keys survived too: the new instance's ID token verifies against its JWKS.
    await jwtVerify(second.id_token!, createRemoteJWKSet(new URL(`${issuer}/jwks`)), { issuer, audience: rp.clientId });

    const refreshed = await client.refreshTokenGrant(rp.config, tokens.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();
    const info = await client.fetchUserInfo(rp.config, refreshed.access_token, user.sub);
    expect(info.sub).toBe(user.sub);
  });

  it('lets a user finish a login form that the previous instance showed', async () => {
    const agent = new UserAgent();
    const started = await authorize(agent, 'openid profile');
    expect(started.html).toContain('name="password"');
    const uid = /\/interaction\/([\w-]+)\/login/.exec(started.html)![1];

    await restart();

    let step = await agent.follow(`${issuer}/interaction/${uid}/login`, rp.redirectUri, {
      form: { login: user.username, password: user.password },
    });
    if (!step.url.startsWith(rp.redirectUri)) {
      const html = await step.res.text();
      expect(html).toContain('data-testid="approve"');
      const confirmUid = /\/interaction\/([\w-]+)\/confirm/.exec(html)![1];
      step = await agent.follow(`${issuer}/interaction/${confirmUid}/confirm`, rp.redirectUri, { form: {} });
    }
    expect(step.url.startsWith(rp.redirectUri)).toBe(true);
    const tokens = await client.authorizationCodeGrant(rp.config, new URL(step.url), {
      pkceCodeVerifier: started.verifier, expectedState: started.state, idTokenExpected: true,
    });
    expect(tokens.claims()!.sub).toBe(user.sub);
  });
});
