import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CALLBACK, codeFlow, discover } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { adminToken, api, Contract, tokenRequest } from './support.js';

let server: TestServer;
let token: string;
let contract: Contract;

beforeAll(async () => {
  server = await startServer();
  token = await adminToken(server.issuer);
  contract = await Contract.fetch(`${server.issuer}/admin/openapi.json`);
});
afterAll(async () => server?.close());

const serviceClient = { client_name: 'Reporting job', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] };

describe('registering apps', () => {
  it('registers a confidential app, shows its secret once and never again', async () => {
    const created = await api(server.issuer, token, 'POST', '/clients', {
      client_name: 'Notes', redirect_uris: [CALLBACK], post_logout_redirect_uris: ['http://127.0.0.1:1/bye'],
      grant_types: ['authorization_code', 'refresh_token'], refresh_token_idle_ttl: 3600,
    });
    expect(created.status).toBe(201);
    contract.check('POST', '/clients', created);
    expect(created.body.client_secret).toEqual(expect.any(String));
    expect(String(created.body.client_secret).length).toBeGreaterThanOrEqual(43);

    const id = String(created.body.client_id);
    const shown = await api(server.issuer, token, 'GET', `/clients/${id}`);
    contract.check('GET', '/clients/{id}', shown);
    expect(shown.body).toMatchObject({ client_id: id, client_name: 'Notes', refresh_token_idle_ttl: 3600 });
    expect(shown.body).not.toHaveProperty('client_secret');

    const listed = await api(server.issuer, token, 'GET', '/clients?limit=100');
    contract.check('GET', '/clients', listed);
    const clients = listed.body.clients as Array<Record<string, unknown>>;
    expect(clients.map((c) => c.client_id)).toContain(id);
    expect(clients.every((c) => !('client_secret' in c))).toBe(true);
  });

  it('registers a public app (PKCE, no secret) that can sign a user in', async () => {
    const created = await api(server.issuer, token, 'POST', '/clients', {
      client_name: 'Mobile', application_type: 'native', redirect_uris: ['http://127.0.0.1/cb'],
      token_endpoint_auth_method: 'none',
    });
    expect(created.status).toBe(201);
    contract.check('POST', '/clients', created);
    expect(created.body).not.toHaveProperty('client_secret');
  });

  it.each([
    ['a native app with an http redirect to a public host', { application_type: 'native', redirect_uris: ['http://example.com/cb'] }],
    ['a redirect URI with a fragment', { redirect_uris: ['https://app.example/cb#x'] }],
    ['a redirect URI that is not a URI', { redirect_uris: ['not a uri'] }],
    ['a grace period beyond the server maximum', { redirect_uris: [CALLBACK], refresh_token_grace_period: 3600 }],
    ['a code flow app without redirect URIs', { grant_types: ['authorization_code'] }],
  ])('refuses %s with oidc-provider\'s own client validation', async (_name, metadata) => {
    const before = await server.store.collection('Client').countDocuments();
    const res = await api(server.issuer, token, 'POST', '/clients', { client_name: 'Bad', ...metadata });
    expect(res.status).toBe(400);
    contract.check('POST', '/clients', res);
    expect(['invalid_client_metadata', 'invalid_redirect_uri']).toContain(res.body.error);
    expect(await server.store.collection('Client').countDocuments()).toBe(before);
  });

  it.each([
    ['an unknown field', { client_name: 'X', jwks_uri: 'https://evil.example/jwks' }],
    ['an operator object where a string belongs', { client_name: { $gt: '' } }],
    ['a string where a list belongs', { client_name: 'X', redirect_uris: CALLBACK }],
    ['a missing name', { redirect_uris: [CALLBACK] }],
  ])('refuses %s before anything is stored', async (_name, body) => {
    const res = await api(server.issuer, token, 'POST', '/clients', body);
    expect(res.status).toBe(400);
    contract.check('POST', '/clients', res);
    expect(res.body.error).toBe('invalid_client_metadata');
  });
});

describe('managing apps', () => {
  it('rotates a secret: the old one stops working at once, the new one works', async () => {
    const created = await api(server.issuer, token, 'POST', '/clients', serviceClient);
    const id = String(created.body.client_id);
    const oldSecret = String(created.body.client_secret);
    expect((await tokenRequest(server.issuer, id, oldSecret, {})).status).toBe(200);

    const rotated = await api(server.issuer, token, 'POST', `/clients/${id}/secret`);
    contract.check('POST', '/clients/{id}/secret', rotated);
    expect(rotated.body.client_secret).not.toBe(oldSecret);

    const refused = await tokenRequest(server.issuer, id, oldSecret, {});
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: 'invalid_client' });
    expect((await tokenRequest(server.issuer, id, String(rotated.body.client_secret), {})).status).toBe(200);
  });

  it('deletes an app: its grants die and it can no longer authenticate', async () => {
    const created = await api(server.issuer, token, 'POST', '/clients', {
      ...serviceClient, client_name: 'Doomed', redirect_uris: [CALLBACK], grant_types: ['authorization_code', 'refresh_token', 'client_credentials'], response_types: ['code'],
    });
    const id = String(created.body.client_id);
    const secret = String(created.body.client_secret);
    const user = await api(server.issuer, token, 'POST', '/users', { username: 'carol', password: 'carol-password' });
    const config = await discover(server.issuer, id, { redirect_uris: [CALLBACK] }, client.ClientSecretBasic(secret));
    const { tokens } = await codeFlow({ clientId: id, clientSecret: secret, redirectUri: CALLBACK, config }, {
      login: { username: 'carol', password: 'carol-password' }, scope: 'openid offline_access', params: { prompt: 'consent' },
    });

    const deleted = await api(server.issuer, token, 'DELETE', `/clients/${id}`);
    contract.check('DELETE', '/clients/{id}', deleted);
    expect(deleted.body).toEqual({ client_id: id, grants_revoked: 1 });
    expect((await api(server.issuer, token, 'GET', `/clients/${id}`)).status).toBe(404);
    expect((await tokenRequest(server.issuer, id, secret, {})).status).toBe(401);
    // openid-client reports the token endpoint's invalid_client as a 401 Basic challenge.
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ status: 401 });
    const grants = await api(server.issuer, token, 'GET', `/users/${String(user.body.id)}/grants`);
    expect(grants.body.grants).toEqual([]);
  });

  it.each([
    ['GET', '/clients/no-such-client', '/clients/{id}'],
    ['DELETE', '/clients/no-such-client', '/clients/{id}'],
    ['POST', '/clients/no-such-client/secret', '/clients/{id}/secret'],
  ])('answers 404 for %s of an unknown app', async (method, path, template) => {
    const res = await api(server.issuer, token, method, path);
    expect(res.status).toBe(404);
    contract.check(method, template, res);
    expect(res.body.error).toBe('not_found');
  });

  it('refuses to rotate the secret of a public app', async () => {
    const created = await api(server.issuer, token, 'POST', '/clients', {
      client_name: 'SPA', redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none',
    });
    const res = await api(server.issuer, token, 'POST', `/clients/${String(created.body.client_id)}/secret`);
    expect(res.status).toBe(400);
    contract.check('POST', '/clients/{id}/secret', res);
  });
});
