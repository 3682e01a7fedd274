import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { MongoAdapter } from '../../src/oidc/adapter.js';
import { CALLBACK } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { adminToken, api, Contract } from './support.js';

let server: TestServer;
let token: string;
let contract: Contract;

beforeAll(async () => {
  server = await startServer();
  token = await adminToken(server.issuer);
  contract = await Contract.fetch(`${server.issuer}/admin/openapi.json`);
});
afterAll(async () => server?.close());

/** client_credentials the way a stranger who knows a public client's id would try it. */
async function clientCredentials(clientId: string, extra: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, ...extra }),
  });
}

const spa = { client_name: 'SPA', redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none' };

describe('public clients and client_credentials (RFC 6749 §4.4)', () => {
  it('refuses to register a public client with client_credentials, in any order or mix of grants', async () => {
    for (const grantTypes of [['client_credentials'], ['authorization_code', 'client_credentials'], ['client_credentials', 'refresh_token', 'authorization_code']]) {
      const res = await api(server.issuer, token, 'POST', '/clients', { ...spa, grant_types: grantTypes });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_client_metadata' });
      expect(String(res.body.error_description)).toContain('client_credentials');
      contract.check('POST', '/clients', res);
    }
    const list = await api(server.issuer, token, 'GET', '/clients?limit=100');
    expect((list.body.clients as Array<{ client_name: string }>).filter((c) => c.client_name === 'SPA')).toEqual([]);
  });

  it('refuses an update that makes a public client use client_credentials, either way round', async () => {
    const created = await api(server.issuer, token, 'POST', '/clients', spa);
    expect(created.status).toBe(201);
    const id = String(created.body.client_id);
    const addGrant = await api(server.issuer, token, 'PATCH', `/clients/${id}`, { grant_types: ['authorization_code', 'client_credentials'] });
    expect(addGrant.status).toBe(400);
    expect(addGrant.body).toMatchObject({ error: 'invalid_client_metadata' });
    contract.check('PATCH', '/clients/{id}', addGrant);

    const service = await api(server.issuer, token, 'POST', '/clients', {
      client_name: 'Service', grant_types: ['client_credentials'], response_types: [], redirect_uris: [],
    });
    const serviceId = String(service.body.client_id);
    const goPublic = await api(server.issuer, token, 'PATCH', `/clients/${serviceId}`, { token_endpoint_auth_method: 'none' });
    expect(goPublic.status).toBe(400);
    expect(goPublic.body).toMatchObject({ error: 'invalid_client_metadata' });

    // Nothing was stored: the service keeps its secret and its grant.
    const stored = await new MongoAdapter(server.store, 'Client').find(serviceId);
    expect(stored?.token_endpoint_auth_method).toBeUndefined();
    expect(stored?.grant_types).toEqual(['client_credentials']);
    expect(stored?.client_secret).toBe(service.body.client_secret);
    expect((await clientCredentials(id)).status).toBeGreaterThanOrEqual(400);
  });

  it('lets an update change other fields, and issues a secret when a public client becomes confidential', async () => {
    const created = await api(server.issuer, token, 'POST', '/clients', spa);
    const id = String(created.body.client_id);
    const renamed = await api(server.issuer, token, 'PATCH', `/clients/${id}`, { client_name: 'Renamed SPA' });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ client_id: id, client_name: 'Renamed SPA', token_endpoint_auth_method: 'none' });
    expect(renamed.body.client_secret).toBeUndefined();
    contract.check('PATCH', '/clients/{id}', renamed);

    const confidential = await api(server.issuer, token, 'PATCH', `/clients/${id}`, {
      token_endpoint_auth_method: 'client_secret_basic', grant_types: ['authorization_code', 'client_credentials'],
    });
    expect(confidential.status).toBe(200);
    expect(typeof confidential.body.client_secret).toBe('string');
    contract.check('PATCH', '/clients/{id}', confidential);
    const minted = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${id}:${String(confidential.body.client_secret)}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials' }),
    });
    expect(minted.status).toBe(200);
  });

  it('answers 404 for an update of an unknown client and 400 for unknown fields', async () => {
    expect((await api(server.issuer, token, 'PATCH', '/clients/nope', { client_name: 'x' })).status).toBe(404);
    const created = await api(server.issuer, token, 'POST', '/clients', spa);
    const res = await api(server.issuer, token, 'PATCH', `/clients/${String(created.body.client_id)}`, { client_secret: 'mine' });
    expect(res.status).toBe(400);
  });

  it('lets no one mint tokens with a legacy public client stored with client_credentials', async () => {
    const id = 'legacy-public-cc';
    await new MongoAdapter(server.store, 'Client').upsert(id, {
      client_id: id, client_name: 'Legacy', token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'client_credentials'], response_types: ['code'], redirect_uris: [CALLBACK],
    });
    const attempts = await Promise.all([
      clientCredentials(id),
      clientCredentials(id, { scope: 'api:read', resource: server.settings.apiAudience }),
      clientCredentials(id.toUpperCase()),
    ]);
    for (const res of attempts) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      const body = (await res.json()) as Record<string, unknown>;
      expect(body.access_token).toBeUndefined();
      expect(typeof body.error).toBe('string');
    }
    expect(await server.store.collection('ClientCredentials').countDocuments({ clientId: id })).toBe(0);
  });
});

describe('resource_server_audiences', () => {
  it('accepts a confidential client for a known API and refuses public clients and unknown audiences', async () => {
    const ok = await api(server.issuer, token, 'POST', '/clients', {
      client_name: 'Notes API', grant_types: ['client_credentials'], response_types: [], redirect_uris: [],
      resource_server_audiences: [server.settings.apiAudience],
    });
    expect(ok.status).toBe(201);
    expect(ok.body.resource_server_audiences).toEqual([server.settings.apiAudience]);
    contract.check('POST', '/clients', ok);

    const publicRs = await api(server.issuer, token, 'POST', '/clients', { ...spa, resource_server_audiences: [server.settings.apiAudience] });
    expect(publicRs.status).toBe(400);
    expect(publicRs.body).toMatchObject({ error: 'invalid_client_metadata' });

    for (const audience of [`${server.issuer}/admin`, 'https://elsewhere.example/api', server.settings.apiAudience.toUpperCase()]) {
      const res = await api(server.issuer, token, 'POST', '/clients', {
        client_name: 'Nosy', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], resource_server_audiences: [audience],
      });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_client_metadata' });
    }
  });
});
