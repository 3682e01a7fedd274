import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { SessionAdapter } from '../../src/oidc/session-adapter.js';
import { endUserPast } from '../../src/revocation/user-past.js';
import { CutOffs } from '../../src/revocation/cutoff.js';
import { Contract, type ApiResponse } from '../admin/support.js';
import { codeFlow, createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { UserAgent } from '../support/user-agent.js';

const PORTAL = 'portal';

describe('the account API over HTTP with a JWT access token', () => {
  let server: TestServer;
  let portal: RegisteredClient;
  let photos: RegisteredClient;
  let contract: Contract;
  let accountAudience: string;

  beforeAll(async () => {
    server = await startServer({ env: { ACCOUNT_API_CLIENTS: PORTAL } });
    accountAudience = `${server.issuer}/account`;
    portal = await registerClient(server, { client_id: PORTAL, client_name: 'Our portal' });
    photos = await registerClient(server, { client_name: 'Photos' });
    contract = await Contract.fetch(`${server.issuer}/account/api/openapi.json`);
  });

  afterAll(async () => {
    await server?.close();
  });

  async function call(token: string | undefined, method: string, path: string): Promise<ApiResponse> {
    const res = await fetch(`${server.issuer}/account/api${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  /** The first-party portal signs the user in: no consent page, a JWT for the account API. */
  async function portalToken(person: { username: string; password: string }, agent = new UserAgent()) {
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(portal.config, {
      redirect_uri: portal.redirectUri, scope: 'openid account', resource: accountAudience, state: client.randomState(),
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    let landed = await agent.follow(url, portal.redirectUri);
    if (!landed.url.startsWith(portal.redirectUri)) {
      const uid = /\/interaction\/([\w-]+)\//.exec(await landed.res.text())![1];
      landed = await agent.follow(`${server.issuer}/interaction/${uid}/login`, portal.redirectUri, { form: { login: person.username, password: person.password } });
    }
    expect(landed.url.startsWith(portal.redirectUri), 'no consent page for a first-party app').toBe(true);
    const callback = new URL(landed.url);
    const tokens = await client.authorizationCodeGrant(portal.config, callback, {
      pkceCodeVerifier: verifier, expectedState: callback.searchParams.get('state')!,
    });
    return { token: tokens.access_token, agent };
  }

  it('lists and removes the user’s apps and sessions, answering per the OpenAPI document', async () => {
    const user = await createUser(server);
    const { token, agent } = await portalToken(user);
    expect(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())).toMatchObject({ aud: accountAudience, scope: 'account', sub: user.sub });
    const { tokens } = await codeFlow(photos, { agent, scope: 'openid profile offline_access', params: { prompt: 'consent' } });

    const grants = await call(token, 'GET', '/grants');
    contract.check('GET', '/grants', grants);
    const listed = grants.body.grants as Array<{ id: string; client_id: string; client_name: string; scopes: string[] }>;
    const photosGrant = listed.find((grant) => grant.client_id === photos.clientId)!;
    expect(photosGrant).toMatchObject({ client_name: 'Photos', scopes: expect.arrayContaining(['openid', 'profile', 'offline_access']) });

    const sessions = await call(token, 'GET', '/sessions');
    contract.check('GET', '/sessions', sessions);
    expect((sessions.body.sessions as unknown[]).length).toBe(1);

    expect((await call(token, 'DELETE', `/grants/${photosGrant.id}`)).status).toBe(204);
    await expect(client.refreshTokenGrant(photos.config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    const again = await call(token, 'DELETE', `/grants/${photosGrant.id}`);
    contract.check('DELETE', '/grants/{id}', again);
    expect(again.status).toBe(404);

    const sessionId = (sessions.body.sessions as Array<{ id: string }>)[0]!.id;
    expect((await call(token, 'DELETE', `/sessions/${sessionId}`)).status).toBe(204);
    expect((await call(token, 'GET', '/sessions')).body).toEqual({ sessions: [] });
  });

  it("answers 404 for another user's grant and session, and leaves them alone; concurrent removals succeed once", async () => {
    const alice = await createUser(server);
    const bob = await createUser(server);
    const { token: aliceToken } = await portalToken(alice);
    const { agent: bobAgent } = await portalToken(bob);
    const { tokens: bobTokens } = await codeFlow(photos, { agent: bobAgent, scope: 'openid offline_access', params: { prompt: 'consent' } });
    const bobGrant = (await server.store.collection('Grant').findOne({ accountId: bob.sub, clientId: photos.clientId }))!._id;
    const bobSession = (await server.store.collection('Session').findOne({ accountId: bob.sub }))!.uid!;

    for (const path of [`/grants/${bobGrant}`, `/sessions/${bobSession}`]) {
      const res = await call(aliceToken, 'DELETE', path);
      contract.check('DELETE', path.startsWith('/grants') ? '/grants/{id}' : '/sessions/{id}', res);
      expect(res.status, path).toBe(404);
    }
    const aliceGrants = (await call(aliceToken, 'GET', '/grants')).body.grants as Array<{ id: string }>;
    expect(aliceGrants.map((grant) => grant.id)).not.toContain(bobGrant);
    const refreshed = await client.refreshTokenGrant(photos.config, bobTokens.refresh_token!);

    const { token: bobToken } = await portalToken(bob, bobAgent);
    const results = await Promise.all(Array.from({ length: 5 }, () => call(bobToken, 'DELETE', `/grants/${bobGrant}`)));
    expect(results.map((res) => res.status).sort()).toEqual([204, 404, 404, 404, 404]);
    await expect(client.refreshTokenGrant(photos.config, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('refuses no token, a token for another API, a revoked user’s token, and a third-party app asking for the account API', async () => {
    const user = await createUser(server);
    const { token } = await portalToken(user);
    const none = await call(undefined, 'GET', '/grants');
    contract.check('GET', '/grants', none);
    expect(none.status).toBe(401);

    const { tokens } = await codeFlow(photos, { login: user, scope: 'openid api:read', params: { resource: server.settings.apiAudience } });
    const otherApi = await call(tokens.access_token, 'GET', '/grants');
    contract.check('GET', '/grants', otherApi);
    expect(otherApi.status).toBe(403);

    const agent = new UserAgent();
    const url = client.buildAuthorizationUrl(photos.config, {
      redirect_uri: photos.redirectUri, scope: 'openid account', resource: accountAudience, state: 's',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    const refused = new URL((await agent.follow(url, photos.redirectUri)).url);
    expect(refused.searchParams.get('error')).toBe('invalid_target');

    await endUserPast({ providers: server.providers, store: server.store, events: server.events, cutOffs: new CutOffs(server.accounts.model) }, user.sub, 'revoked');
    const revoked = await call(token, 'GET', '/sessions');
    contract.check('GET', '/sessions', revoked);
    expect(revoked.status).toBe(401);
  });

  it('keeps a signed-out session out when a request that was in flight saves it back', async () => {
    const user = await createUser(server);
    const { token, agent } = await portalToken(user);
    const sessions = server.store.collection('Session');
    const before = (await sessions.findOne({ accountId: user.sub }))!;
    expect((await call(token, 'DELETE', `/sessions/${before.uid}`)).status).toBe(204);

    // What oidc-provider does at the end of a request that loaded the session before the sign-out.
    const lateSave = new SessionAdapter(server.store, new CutOffs(server.accounts.model));
    await lateSave.upsert(before._id, JSON.parse(before.payload) as Record<string, unknown>, 3600);
    expect(await lateSave.find(before._id)).toBeUndefined();
    expect((await call(token, 'GET', '/sessions')).body).toEqual({ sessions: [] });

    const silent = client.buildAuthorizationUrl(portal.config, {
      redirect_uri: portal.redirectUri, scope: 'openid', prompt: 'none', state: 's',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    const landed = new URL((await agent.follow(silent, portal.redirectUri)).url);
    expect(landed.searchParams.get('error')).toBe('login_required');
  });
});
