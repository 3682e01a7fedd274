import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { adminToken, api, Contract } from '../admin/support.js';
import { CALLBACK, codeFlow, createUser } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';

const insecure = { execute: [client.allowInsecureRequests] };

describe('dynamic client registration, off by default', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('has no registration endpoint and issues no initial access tokens', async () => {
    const doc = await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
    expect(doc.registration_endpoint).toBeUndefined();
    const res = await fetch(`${server.issuer}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(404);
    const created = await api(server.issuer, await adminToken(server.issuer), 'POST', '/initial-access-tokens', {});
    expect(created.status).toBe(409);
    expect(created.body.error).toBe('registration_disabled');
  });
});

describe('dynamic client registration (RFC 7591/7592), DYNAMIC_REGISTRATION=on', () => {
  let server: TestServer;
  let admin: string;
  let contract: Contract;

  beforeAll(async () => {
    server = await startServer({ env: { DYNAMIC_REGISTRATION: 'on' } });
    admin = await adminToken(server.issuer);
    contract = await Contract.fetch(`${server.issuer}/admin/openapi.json`);
  });
  afterAll(async () => {
    await server?.close();
  });

  async function initialAccessToken(body: Record<string, unknown> = {}): Promise<string> {
    const res = await api(server.issuer, admin, 'POST', '/initial-access-tokens', body);
    expect(res.status).toBe(201);
    contract.check('post', '/initial-access-tokens', res);
    return res.body.initial_access_token as string;
  }

  function register(metadata: Record<string, unknown>, token?: string): Promise<Response> {
    return fetch(`${server.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(metadata),
    });
  }

  it('refuses a registration without an initial access token', async () => {
    const res = await register({ redirect_uris: [CALLBACK] });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_token');
  });

  it('registers a client with openid-client, which then signs a user in', async () => {
    const token = await initialAccessToken();
    const config = await client.dynamicClientRegistration(new URL(server.issuer), {
      client_name: 'Self-registered app', redirect_uris: [CALLBACK], token_endpoint_auth_method: 'client_secret_basic',
    }, undefined, { ...insecure, initialAccessToken: token });
    const metadata = config.clientMetadata();
    expect(metadata.client_secret).toBeTruthy();
    expect(metadata.registration_access_token).toBeTruthy();
    const user = await createUser(server);
    const { tokens } = await codeFlow({ clientId: metadata.client_id, clientSecret: metadata.client_secret as string, redirectUri: CALLBACK, config }, { login: user });
    expect(tokens.claims()?.sub).toBe(user.sub);
    const events = await server.events.model.find({ type: 'client.registered', clientId: metadata.client_id }).lean();
    expect(events).toHaveLength(1);
  });

  it('lets the registered client read, update and delete itself (RFC 7592)', async () => {
    const created = await register({ client_name: 'Managed app', redirect_uris: [CALLBACK] }, await initialAccessToken());
    expect(created.status).toBe(201);
    const { registration_client_uri: uri, registration_access_token: rat, client_id: clientId } = await created.json() as Record<string, string>;
    const auth = { authorization: `Bearer ${rat}` };
    expect((await fetch(uri!, { headers: auth })).status).toBe(200);
    const updated = await fetch(uri!, {
      method: 'PUT', headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: clientId, client_name: 'Renamed app', redirect_uris: [CALLBACK] }),
    });
    expect(updated.status).toBe(200);
    const body = await updated.json() as Record<string, string>;
    expect(body.client_name).toBe('Renamed app');
    // The registration access token rotates on update: the old one is spent.
    expect((await fetch(uri!, { headers: auth })).status).toBe(401);
    const newAuth = { authorization: `Bearer ${body.registration_access_token}` };
    expect((await fetch(uri!, { method: 'DELETE', headers: newAuth })).status).toBe(204);
    expect((await api(server.issuer, admin, 'GET', `/clients/${clientId}`)).status).toBe(404);
  });

  it('allows as many registrations as the token says, even when they race', async () => {
    const token = await initialAccessToken({ max_uses: 3 });
    const results = await Promise.all([...Array(10)].map((_, i) => register({ client_name: `Racer ${i}`, redirect_uris: [CALLBACK] }, token)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    expect(results.filter((r) => r.status === 401)).toHaveLength(7);
  });

  it('applies the rules of the admin API, and keeps operator-only metadata for operators', async () => {
    const token = await initialAccessToken({ max_uses: 1 });
    const refusals = {
      publicWithClientCredentials: { redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none', grant_types: ['client_credentials'] },
      resourceServer: { redirect_uris: [CALLBACK], resource_server_audiences: [server.settings.apiAudience] },
      longerRefreshTokens: { redirect_uris: [CALLBACK], refresh_token_absolute_ttl: 10 * 365 * 24 * 3600 },
      loopbackBackChannel: { redirect_uris: [CALLBACK], backchannel_logout_uri: 'https://127.0.0.1/logout' },
      privateBackChannel: { redirect_uris: [CALLBACK], backchannel_logout_uri: 'https://[fd00::1]/logout' },
      fragmentRedirect: { redirect_uris: ['https://app.example.test/cb#frag'] },
    };
    for (const [name, metadata] of Object.entries(refusals)) {
      const res = await register(metadata, token);
      expect(res.status, name).toBe(400);
      expect(((await res.json()) as { error: string }).error, name).toMatch(/^invalid_(client_metadata|redirect_uri)$/);
    }
    // Refused registrations cost no use: the token still registers.
    expect((await register({ redirect_uris: [CALLBACK] }, token)).status).toBe(201);
  });

  it('stops accepting a revoked or expired initial access token', async () => {
    const revoked = await initialAccessToken({ max_uses: 5 });
    const res = await api(server.issuer, admin, 'POST', '/initial-access-tokens/revoke', { initial_access_token: revoked });
    expect(res.status).toBe(200);
    contract.check('post', '/initial-access-tokens/revoke', res);
    expect((await register({ redirect_uris: [CALLBACK] }, revoked)).status).toBe(401);
    expect((await api(server.issuer, admin, 'POST', '/initial-access-tokens/revoke', { initial_access_token: revoked })).status).toBe(404);

    const expiring = await initialAccessToken({ expires_in: 1 });
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect((await register({ redirect_uris: [CALLBACK] }, expiring)).status).toBe(401);
  });

  it('answers bad input to the admin endpoint with 400', async () => {
    for (const body of [{ max_uses: 0 }, { max_uses: 'many' }, { expires_in: -5 }, { extra: true }]) {
      const res = await api(server.issuer, admin, 'POST', '/initial-access-tokens', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      contract.check('post', '/initial-access-tokens', res);
    }
  });
});
