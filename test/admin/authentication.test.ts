import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startServer, type TestServer } from '../support/server.js';
import { ADMIN, adminToken, api, Contract, grantClientScopes, tokenRequest, type ApiResponse } from './support.js';

let server: TestServer;
let contract: Contract;
let service: { id: string; secret: string };

beforeAll(async () => {
  server = await startServer();
  contract = await Contract.fetch(`${server.issuer}/admin/openapi.json`);
  const created = await api(server.issuer, await adminToken(server.issuer), 'POST', '/clients', {
    client_name: 'Batch job', grant_types: ['client_credentials'], response_types: [], redirect_uris: [],
  });
  service = { id: String(created.body.client_id), secret: String(created.body.client_secret) };
});
afterAll(async () => server?.close());

async function tokenFor(id: string, secret: string, params: Record<string, string>): Promise<string> {
  const res = await tokenRequest(server.issuer, id, secret, params);
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** An RFC 6750 refusal: the status, the error in the body and in the Bearer challenge. */
function expectBearerError(res: ApiResponse, status: number, error: string): void {
  expect(res.status).toBe(status);
  contract.check('GET', '/users', res);
  expect(res.body.error).toBe(error);
  expect(res.headers.get('www-authenticate')).toContain(`error="${error}"`);
}

describe('the admin token', () => {
  it('is a JWT access token for the admin API, obtained with client_credentials and scope admin', async () => {
    const token = await adminToken(server.issuer);
    expect(decodeProtectedHeader(token).typ).toBe('at+jwt');
    expect(decodeJwt(token)).toMatchObject({ aud: `${server.issuer}/admin`, scope: 'admin', client_id: ADMIN.id, iss: server.issuer });
    const res = await api(server.issuer, token, 'GET', '/users');
    expect(res.status).toBe(200);
    contract.check('GET', '/users', res);
  });

  it('cannot be obtained by any other client', async () => {
    const res = await tokenRequest(server.issuer, service.id, service.secret, { scope: 'admin' });
    // `admin` is no OpenID scope, so without a resource it is an API scope asked for blindly.
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_scope' });
    const targeted = await tokenRequest(server.issuer, service.id, service.secret, { scope: 'admin', resource: `${server.issuer}/admin` });
    expect(targeted.status).toBe(400);
    expect(((await targeted.json()) as { error: string }).error).toBe('invalid_target');
  });
});

describe('requests without a usable token', () => {
  it('answers 401 with a Bearer challenge when no token is sent', async () => {
    const res = await api(server.issuer, undefined, 'GET', '/users');
    expect(res.status).toBe(401);
    contract.check('GET', '/users', res);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="admin"$/);
  });

  it.each([
    ['a random string', 'not-a-token'],
    ['an opaque token of another client', 'OPAQUE'],
    ['an admin token with a forged signature', 'FORGED'],
    ['a JWT signed by someone else', 'eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl'],
  ])('answers 401 invalid_token for %s', async (_name, value) => {
    let bearer = value;
    if (value === 'OPAQUE') bearer = await tokenFor(service.id, service.secret, {});
    if (value === 'FORGED') {
      const [header, payload] = (await adminToken(server.issuer)).split('.');
      bearer = `${header}.${payload}.${Buffer.from('forged').toString('base64url')}`;
    }
    const res = await api(server.issuer, bearer, 'GET', '/users');
    expectBearerError(res, 401, 'invalid_token');
  });

  it('answers 403 insufficient_scope for a genuine token for another API', async () => {
    await grantClientScopes(server.issuer, service.id, server.settings.apiAudience, ['api:read']);
    const apiToken = await tokenFor(service.id, service.secret, { resource: server.settings.apiAudience, scope: 'api:read' });
    expect(decodeProtectedHeader(apiToken).typ).toBe('at+jwt');
    const res = await api(server.issuer, apiToken, 'GET', '/users');
    expectBearerError(res, 403, 'insufficient_scope');
  });

  it('answers 403 for an admin-API token without the admin scope', async () => {
    const unscoped = await tokenFor(ADMIN.id, ADMIN.secret, {});
    expect(decodeJwt(unscoped).aud).toBe(`${server.issuer}/admin`);
    expect(decodeJwt(unscoped).scope).toBeUndefined();
    const res = await api(server.issuer, unscoped, 'POST', '/users', { username: 'mallory', password: 'mallory-password' });
    expect(res.status).toBe(403);
    expect(await server.accounts.model.countDocuments({ username: 'mallory' })).toBe(0);
  });

  it('serves its OpenAPI 3.1 description without a token', async () => {
    const res = await fetch(`${server.issuer}/admin/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/clients', '/users/{id}/revoke', '/grants/{grantId}']));
  });

  it('answers unknown admin paths with a JSON 404, never the provider', async () => {
    const res = await api(server.issuer, await adminToken(server.issuer), 'GET', '/nothing-here');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'not_found', error_description: expect.any(String) });
  });
});
