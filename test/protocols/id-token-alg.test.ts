import { decodeProtectedHeader } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { adminToken, api } from '../admin/support.js';
import { CALLBACK, codeFlow, createUser, discover } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';

let server: TestServer;
let admin: string;

beforeAll(async () => {
  server = await startServer();
  admin = await adminToken(server.issuer);
});
afterAll(async () => {
  await server?.close();
});

describe('ID token algorithm per app', () => {
  it('signs with ES256 for an app registered through the admin API with id_token_signed_response_alg ES256', async () => {
    const created = await api(server.issuer, admin, 'POST', '/clients', {
      client_name: 'ES256 app', redirect_uris: [CALLBACK], id_token_signed_response_alg: 'ES256',
    });
    expect(created.status).toBe(201);
    expect(created.body.id_token_signed_response_alg).toBe('ES256');
    const clientId = created.body.client_id as string;
    const config = await discover(server.issuer, clientId, { redirect_uris: [CALLBACK], id_token_signed_response_alg: 'ES256' },
      client.ClientSecretBasic(created.body.client_secret as string));
    const user = await createUser(server);
    // openid-client verifies the ID token's signature with our JWKS and insists on ES256.
    const { tokens } = await codeFlow({ clientId, clientSecret: undefined, redirectUri: CALLBACK, config }, { login: user });
    expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('ES256');
    expect(tokens.claims()?.sub).toBe(user.sub);
  });

  it('refuses an algorithm the server has no key for', async () => {
    const refused = await api(server.issuer, admin, 'POST', '/clients', {
      client_name: 'HS app', redirect_uris: [CALLBACK], id_token_signed_response_alg: 'HS256',
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_client_metadata');
  });
});
