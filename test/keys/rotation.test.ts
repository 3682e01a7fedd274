import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import type { Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadSettings } from '../../src/config/settings.js';
import { connectDatabase } from '../../src/db/connection.js';
import { accountModel } from '../../src/db/models/account.js';
import { KEY_SET_ID, keySetCollection } from '../../src/db/models/key-set.js';
import { Accounts } from '../../src/oidc/accounts.js';
import { ArtifactStore } from '../../src/oidc/store.js';
import { SEEDED, startServerProcess, type ServerProcess } from '../support/process.js';
import { AFTER_LOGOUT, codeFlow, createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { freePort, freshDatabaseUri, TEST_ENV } from '../support/server.js';
import { UserAgent } from '../support/user-agent.js';
import { api, Contract, tokenRequest, ADMIN, type ApiResponse } from '../admin/support.js';

/** Short lifecycle timings so a whole rotation fits in a test; the production defaults are minutes and days. */
const PICKUP_SECONDS = 1;
const RETENTION_SECONDS = 8;
/** Generous: the machine is shared, and a pickup also rebuilds the provider. */
const PICKUP_BOUND_MS = PICKUP_SECONDS * 1000 + 4000;
const PRIVATE_MEMBER = /"(d|p|q|dp|dq|qi|k)"\s*:/;

interface KeyView { kid: string; use: string; alg?: string; state: string; ready_at?: string; retire_at?: string; ended_at?: string }

/** Two provider processes behind one issuer (as behind a load balancer) on one database. */
describe('signing keys rotating across two server processes', () => {
  let a: ServerProcess;
  let b: ServerProcess;
  let issuer: string;
  let bBase: string;
  let mongoUri: string;
  let connection: Connection;
  let rp: RegisteredClient;
  let user: Awaited<ReturnType<typeof createUser>>;
  let contract: Contract;
  /** Every admin API and JWKS body this suite saw, checked for private key material at the end. */
  const seen: string[] = [];
  /** An ID token signed by the key the first rotation replaces. */
  let oldIdToken: string;
  let oldKid: string;

  beforeAll(async () => {
    mongoUri = freshDatabaseUri('key_rotation');
    const dataDir = await mkdtemp(path.join(tmpdir(), 'oidc-keys-'));
    issuer = `http://127.0.0.1:${await freePort()}`;
    const shared = {
      MONGODB_URI: mongoUri, DATA_DIR: dataDir, ISSUER: issuer,
      KEY_PICKUP_SECONDS: String(PICKUP_SECONDS), JWKS_MAX_AGE: '1', JWKS_RETENTION_SECONDS: String(RETENTION_SECONDS),
    };
    a = await startServerProcess({ env: { ...shared, PORT: new URL(issuer).port }, ready: SEEDED });
    b = await startServerProcess({ env: shared, ready: SEEDED });
    bBase = `http://127.0.0.1:${b.port}`;
    connection = await connectDatabase(mongoUri);
    const store = new ArtifactStore(connection);
    user = await createUser({ accounts: new Accounts(accountModel(connection), loadSettings(TEST_ENV).password) });
    rp = await registerClient({ store, issuer });
    contract = await Contract.fetch(`${issuer}/admin/openapi.json`);
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await connection?.close();
  });

  /** An admin token from the given instance; its header names the RS256 key that instance signs with. */
  async function adminTokenFrom(base: string): Promise<string> {
    const res = await tokenRequest(base, ADMIN.id, ADMIN.secret, { scope: 'admin' });
    expect(res.status).toBe(200);
    return ((await res.json()) as { access_token: string }).access_token;
  }

  async function signingKid(base: string): Promise<string> {
    return decodeProtectedHeader(await adminTokenFrom(base)).kid!;
  }

  async function call(base: string, method: string, route: string, template: string, body?: unknown): Promise<ApiResponse> {
    const res = await api(base, await adminTokenFrom(base), method, route, body);
    seen.push(JSON.stringify(res.body));
    contract.check(method, template, res);
    return res;
  }

  /** The keys as this instance currently sees them. */
  async function keysOn(base: string): Promise<KeyView[]> {
    return (await call(base, 'GET', '/keys', '/keys')).body.keys as KeyView[];
  }

  const key = (keys: KeyView[], alg: string, state: string) => keys.find((k) => k.alg === alg && k.state === state);

  async function jwks(base: string): Promise<JSONWebKeySet> {
    const res = await fetch(`${base}/jwks`);
    const text = await res.text();
    seen.push(text);
    return JSON.parse(text) as JSONWebKeySet;
  }

  const kids = async (base: string) => (await jwks(base)).keys.map((k) => k.kid);

  /** Polls until `check` holds; returns how long that took. */
  async function within(limitMs: number, check: () => Promise<boolean>): Promise<number> {
    const start = Date.now();
    while (!(await check())) {
      if (Date.now() - start > limitMs) throw new Error(`condition not met within ${limitMs} ms`);
      await sleep(100);
    }
    return Date.now() - start;
  }

  /** Until a next key has been published long enough to sign (ready_at). */
  async function untilReady(next: KeyView): Promise<void> {
    await sleep(Math.max(0, Date.parse(next.ready_at!) - Date.now()) + 50);
  }

  /** RP-initiated logout with an id_token_hint, in the user's browser (its session cookie) when given. */
  function endSession(base: string, idToken: string, agent = new UserAgent()): Promise<Response> {
    const query = new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: AFTER_LOGOUT });
    return agent.request(`${base}/session/end?${query}`);
  }

  it('publishes JWKS with a max-age the lifecycle allows for', async () => {
    const res = await fetch(`${issuer}/jwks`);
    expect(res.headers.get('cache-control')).toBe('public, max-age=1');
    // Both algorithms: the current key and the next one, already published.
    const keys = await keysOn(issuer);
    for (const alg of ['RS256', 'ES256']) {
      expect((await kids(issuer)).sort()).toEqual(expect.arrayContaining([key(keys, alg, 'current')!.kid, key(keys, alg, 'next')!.kid]));
    }
  });

  it('rotates on A; B publishes the new next key and signs with the new key within the pickup time, old tokens keep working', async () => {
    const before = await keysOn(issuer);
    oldKid = key(before, 'RS256', 'current')!.kid;
    const promoted = key(before, 'RS256', 'next')!;
    const { tokens, agent } = await codeFlow(rp, { login: user });
    oldIdToken = tokens.id_token!;
    expect(decodeProtectedHeader(oldIdToken).kid).toBe(oldKid);
    await untilReady(promoted);

    const rotated = await call(issuer, 'POST', '/keys/rotate', '/keys/rotate', { alg: 'RS256' });
    expect(rotated.status).toBe(200);
    expect(rotated.body.rotated).toEqual([{ use: 'sig', alg: 'RS256', kid: promoted.kid, replaced: oldKid }]);
    const fresh = key(rotated.body.keys as KeyView[], 'RS256', 'next')!;
    expect(await signingKid(issuer)).toBe(promoted.kid);

    const pickup = await within(PICKUP_BOUND_MS, async () => (await kids(bBase)).includes(fresh.kid) && (await signingKid(bBase)) === promoted.kid);
    console.log(`[keys] B picked up the rotation after ${pickup} ms (pickup interval ${PICKUP_SECONDS} s)`);

    // Signed before the rotation: still verifies against either instance's JWKS, and its hint still ends the session.
    for (const base of [issuer, bBase]) {
      await jwtVerify(oldIdToken, createLocalJWKSet(await jwks(base)), { issuer, audience: rp.clientId });
    }
    const logout = await endSession(bBase, oldIdToken, agent);
    expect(logout.status).toBe(200);
    expect(await logout.text()).toContain('Do you want to sign out');
    expect(a.output()).toMatch(/"type":"key.rotated".*"kid":"[^"]+","replaced":"[^"]+","reason":"admin","actor":"admin"/);
  });

  it('retires the replaced key once the retention time has passed: gone from every JWKS', async () => {
    const previous = (await keysOn(issuer)).find((k) => k.kid === oldKid)!;
    expect(previous.state).toBe('previous');
    await sleep(Math.max(0, Date.parse(previous.retire_at!) - Date.now()));
    await within(PICKUP_BOUND_MS * 2, async () => !(await kids(issuer)).includes(oldKid) && !(await kids(bBase)).includes(oldKid));
    expect((await keysOn(bBase)).find((k) => k.kid === oldKid)).toMatchObject({ state: 'retired', ended_at: expect.any(String) });
    // The documented consequence: a hint signed by a retired key is no longer accepted.
    expect((await endSession(issuer, oldIdToken)).status).toBe(400);
  });

  it('revokes a compromised signing key at once: gone from A now, from B within the pickup time, its tokens refused', async () => {
    const compromised = key(await keysOn(issuer), 'RS256', 'current')!;
    const signedByIt = await adminTokenFrom(bBase);
    expect(decodeProtectedHeader(signedByIt).kid).toBe(compromised.kid);

    const revoked = await call(issuer, 'POST', `/keys/${compromised.kid}/revoke`, '/keys/{kid}/revoke');
    expect(revoked.status).toBe(200);
    const replacement = revoked.body.replaced_by as string;
    expect(replacement).toEqual(expect.any(String));
    expect(await kids(issuer)).not.toContain(compromised.kid);
    expect((await api(issuer, signedByIt, 'GET', '/keys')).status).toBe(401);

    await within(PICKUP_BOUND_MS, async () => !(await kids(bBase)).includes(compromised.kid)
      && (await api(bBase, signedByIt, 'GET', '/keys')).status === 401);
    expect(await signingKid(bBase)).toBe(replacement);
    expect(a.output()).toContain(`"type":"key.revoked"`);

    expect((await call(bBase, 'POST', `/keys/${compromised.kid}/revoke`, '/keys/{kid}/revoke')).status).toBe(409);
    expect((await call(bBase, 'POST', '/keys/no-such-kid/revoke', '/keys/{kid}/revoke')).status).toBe(404);
  });

  it('lets four simultaneous rotations on both instances produce exactly one rotation', async () => {
    await untilReady(key(await keysOn(issuer), 'RS256', 'next')!);
    const eventsBefore = (a.output() + b.output()).match(/"type":"key.rotated"[^\n]*"reason":"admin"/g)?.length ?? 0;
    const tokens = { [issuer]: await adminTokenFrom(issuer), [bBase]: await adminTokenFrom(bBase) };
    const results = await Promise.all([issuer, bBase, issuer, bBase].map((base) => api(base, tokens[base], 'POST', '/keys/rotate', { alg: 'RS256' })));
    results.forEach((res) => contract.check('POST', '/keys/rotate', res));
    expect(results.map((res) => res.status).sort()).toEqual([200, 409, 409, 409]);

    const keys = await keysOn(issuer);
    expect(keys.filter((k) => k.alg === 'RS256' && k.state === 'current')).toHaveLength(1);
    expect(keys.filter((k) => k.alg === 'RS256' && k.state === 'next')).toHaveLength(1);
    await sleep(500);
    const eventsAfter = (a.output() + b.output()).match(/"type":"key.rotated"[^\n]*"reason":"admin"/g)?.length ?? 0;
    expect(eventsAfter - eventsBefore).toBe(1);
  });

  it('rotates cookie keys without signing anyone out on either instance', async () => {
    const { agent } = await codeFlow(rp, { login: user });
    const cookieNext = (await keysOn(issuer)).find((k) => k.use === 'cookie' && k.state === 'next')!;
    await untilReady(cookieNext);
    const rotated = await call(bBase, 'POST', '/keys/rotate', '/keys/rotate', { use: 'cookie' });
    expect(rotated.status).toBe(200);
    await within(PICKUP_BOUND_MS, async () => (await keysOn(issuer)).some((k) => k.kid === cookieNext.kid && k.state === 'current'));
    // No credentials: a login form would throw, so this passes only if the old session cookie still verifies.
    await codeFlow(rp, { agent });
  });

  it('keeps private key material out of every response, log line and the database', async () => {
    expect(seen.length).toBeGreaterThan(10);
    for (const body of seen) expect(body).not.toMatch(PRIVATE_MEMBER);
    expect(a.output()).not.toMatch(PRIVATE_MEMBER);
    expect(b.output()).not.toMatch(PRIVATE_MEMBER);

    const doc = await keySetCollection(connection).findOne({ _id: KEY_SET_ID });
    expect(doc!.keys.length).toBeGreaterThan(6);
    for (const stored of doc!.keys) {
      const { sealed, ...clear } = stored;
      expect(JSON.stringify(clear)).not.toMatch(PRIVATE_MEMBER);
      if (stored.state === 'retired' || stored.state === 'revoked') expect(sealed).toBeUndefined();
      else expect(sealed!.split('.')).toHaveLength(5);
    }
  });

  it('refuses to start with a key-encryption key other than the one the stored keys were encrypted with', async () => {
    const wrongKey = Buffer.alloc(32, 7).toString('base64url');
    const dataDir = await mkdtemp(path.join(tmpdir(), 'oidc-keys-wrong-'));
    const failure = await startServerProcess({ env: { MONGODB_URI: mongoUri, DATA_DIR: dataDir, KEY_ENCRYPTION_KEY: wrongKey } }).then(
      async (process) => { await process.stop(); return 'started'; },
      (err: Error) => err.message,
    );
    expect(failure).toContain('configuration error: KEY_ENCRYPTION_KEY is not the key that encrypted the signing keys');
  });
});
