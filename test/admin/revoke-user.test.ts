import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CALLBACK, codeFlow, discover, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { UserAgent } from '../support/user-agent.js';
import { adminToken, api, Contract, logoutReceiver, type LogoutReceiver } from './support.js';

let server: TestServer;
let token: string;
let contract: Contract;
let receiver: LogoutReceiver;
let withLogout: RegisteredClient;
let plain: RegisteredClient;

/** Registers an app through the admin API and returns openid-client's view of it. */
async function registerApp(metadata: Record<string, unknown>): Promise<RegisteredClient> {
  const res = await api(server.issuer, token, 'POST', '/clients', {
    client_name: 'App', redirect_uris: [CALLBACK], grant_types: ['authorization_code', 'refresh_token'], ...metadata,
  });
  expect(res.status).toBe(201);
  contract.check('POST', '/clients', res);
  const clientId = String(res.body.client_id);
  const clientSecret = String(res.body.client_secret);
  const config = await discover(server.issuer, clientId, { redirect_uris: [CALLBACK] }, client.ClientSecretBasic(clientSecret));
  return { clientId, clientSecret, redirectUri: CALLBACK, config };
}

async function createUser(username: string) {
  const password = 'correct horse battery';
  const res = await api(server.issuer, token, 'POST', '/users', { username, password, email: `${username}@example.test` });
  expect(res.status).toBe(201);
  contract.check('POST', '/users', res);
  return { id: String(res.body.id), username, password };
}

/** Signs the user in to the app with offline access: JWT for the API, or an opaque token for userinfo. */
async function signIn(app: RegisteredClient, login: { username: string; password: string }, agent: UserAgent, jwt: boolean) {
  const params: Record<string, string> = { prompt: 'consent' };
  if (jwt) params.resource = server.settings.apiAudience;
  const { tokens } = await codeFlow(app, {
    login, agent, scope: jwt ? 'openid offline_access api:read' : 'openid offline_access', params,
  });
  expect(tokens.refresh_token).toBeTruthy();
  return tokens;
}

beforeAll(async () => {
  server = await startServer({ env: { OUTBOUND_PRIVATE_NETWORKS: 'true' } });
  token = await adminToken(server.issuer);
  contract = await Contract.fetch(`${server.issuer}/admin/openapi.json`);
  receiver = await logoutReceiver();
  withLogout = await registerApp({ client_name: 'Notes', backchannel_logout_uri: receiver.url, backchannel_logout_session_required: true });
  plain = await registerApp({ client_name: 'Calendar' });
});

afterAll(async () => {
  await receiver?.close();
  await server?.close();
});

describe('revoking a user everywhere', () => {
  it('kills refresh tokens, sessions, grants and JWTs, and tells apps over the back channel', async () => {
    const user = await createUser('alice');
    const agent = new UserAgent();
    const notes = await signIn(withLogout, user, agent, true);
    const calendar = await signIn(plain, user, agent, false);

    const before = await client.tokenIntrospection(withLogout.config, notes.access_token);
    expect(before).toMatchObject({
      active: true, sub: user.id, client_id: withLogout.clientId, aud: server.settings.apiAudience, token_type: 'Bearer', iss: server.issuer,
    });
    expect(String(before.scope).split(' ')).toContain('api:read');
    expect((await client.fetchUserInfo(plain.config, calendar.access_token, user.id)).sub).toBe(user.id);

    const sessions = await api(server.issuer, token, 'GET', `/users/${user.id}/sessions`);
    contract.check('GET', '/users/{id}/sessions', sessions);
    expect(sessions.body.sessions).toHaveLength(1);
    const grants = await api(server.issuer, token, 'GET', `/users/${user.id}/grants`);
    contract.check('GET', '/users/{id}/grants', grants);
    expect((grants.body.grants as Array<{ client_id: string }>).map((g) => g.client_id).sort())
      .toEqual([withLogout.clientId, plain.clientId].sort());
    // Signing in is not a refresh; a rotation is, and dates the grant's last refresh.
    expect((grants.body.grants as Array<{ last_refresh_at?: string }>).map((g) => g.last_refresh_at)).toEqual([undefined, undefined]);
    const refreshed = await client.refreshTokenGrant(plain.config, calendar.refresh_token!);
    const listed = await api(server.issuer, token, 'GET', `/users/${user.id}/grants`);
    contract.check('GET', '/users/{id}/grants', listed);
    const plainGrant = (listed.body.grants as Array<{ client_id: string; last_refresh_at?: string }>).find((g) => g.client_id === plain.clientId);
    expect(Date.parse(plainGrant?.last_refresh_at ?? '')).toBeGreaterThan(Date.now() - 60_000);

    const revoked = await api(server.issuer, token, 'POST', `/users/${user.id}/revoke`);
    contract.check('POST', '/users/{id}/revoke', revoked);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ sessions_ended: 1, grants_revoked: 2, backchannel_logouts_sent: 1, backchannel_logouts_failed: 0 });

    for (const [app, tokens] of [[withLogout, notes], [plain, refreshed]] as const) {
      await expect(client.refreshTokenGrant(app.config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    }
    expect(await client.tokenIntrospection(withLogout.config, notes.access_token)).toEqual({ active: false });
    await expect(client.fetchUserInfo(plain.config, calendar.access_token, user.id)).rejects.toThrow();
    const after = await api(server.issuer, token, 'GET', `/users/${user.id}/sessions`);
    expect(after.body.sessions).toEqual([]);
    expect((await api(server.issuer, token, 'GET', `/users/${user.id}/grants`)).body.grants).toEqual([]);

    // The browser still holds its session cookie, yet the provider asks for a password again.
    const url = client.buildAuthorizationUrl(plain.config, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' });
    const page = await agent.follow(url, CALLBACK);
    expect(await page.res.text()).toContain('name="password"');

    const [logoutToken] = await receiver.waitFor(1);
    const { payload } = await jwtVerify(logoutToken!, createRemoteJWKSet(new URL(`${server.issuer}/jwks`)), {
      issuer: server.issuer, audience: withLogout.clientId, typ: 'logout+jwt',
    });
    expect(payload.events).toEqual({ 'http://schemas.openid.net/event/backchannel-logout': {} });
    expect(payload.sub).toBe(user.id);
    // The same sid the app got in its ID token, so it can find the session to end.
    expect(payload.sid).toEqual(expect.any(String));
    expect(payload.sid).toBe(notes.claims()!.sid);
    expect(payload.nonce).toBeUndefined();

    const events = await server.events.model.find({ accountId: user.id, type: 'user.revoked' }).lean();
    expect(events).toHaveLength(1);
    expect(events[0]!.detail).toMatchObject({ actor: 'admin', grants_revoked: 2 });
  });

  it('limited to one app, leaves the user signed in to the others', async () => {
    const user = await createUser('bob');
    const agent = new UserAgent();
    const notes = await signIn(withLogout, user, agent, true);
    const calendar = await signIn(plain, user, agent, false);
    const already = receiver.received.length;

    const revoked = await api(server.issuer, token, 'POST', `/users/${user.id}/revoke`, { client_id: plain.clientId });
    contract.check('POST', '/users/{id}/revoke', revoked);
    expect(revoked.body).toMatchObject({ sessions_ended: 0, sessions_updated: 1, grants_revoked: 1, backchannel_logouts_sent: 0 });

    await expect(client.refreshTokenGrant(plain.config, calendar.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(client.fetchUserInfo(plain.config, calendar.access_token, user.id)).rejects.toThrow();
    const refreshed = await client.refreshTokenGrant(withLogout.config, notes.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();
    expect((await client.tokenIntrospection(withLogout.config, refreshed.access_token)).active).toBe(true);
    expect((await client.tokenIntrospection(withLogout.config, notes.access_token)).active).toBe(true);

    const sessions = await api(server.issuer, token, 'GET', `/users/${user.id}/sessions`);
    expect(sessions.body.sessions).toEqual([expect.objectContaining({ clients: [withLogout.clientId] })]);
    // Still signed in at the provider: the app gets the user back after consent, no password.
    const again = await codeFlow(plain, { agent, scope: 'openid' });
    expect(again.tokens.access_token).toBeTruthy();
    expect(receiver.received.length).toBe(already);
  });
});
