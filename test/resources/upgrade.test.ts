import { decodeJwt } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';

import { connectDatabase } from '../../src/db/connection.js';
import { codeFlow, createUser, registerClient } from '../support/relying-party.js';
import { freePort, freshDatabaseUri, startServer, type TestServer } from '../support/server.js';
import { adminToken, api, tokenRequest } from '../admin/support.js';

const API = 'https://api.example.com';
const mongoUri = freshDatabaseUri('upgrade');
const open: TestServer[] = [];

let dataDir: string | undefined;

/** Same port, database, key-encryption key and settings: one deployment, restarted. */
async function deployment(port: number): Promise<TestServer> {
  const server = await startServer({ mongoUri, port, dataDir, env: { API_AUDIENCE: API } });
  dataDir = server.dataDir;
  open.push(server);
  return server;
}

async function stop(server: TestServer): Promise<void> {
  open.splice(open.indexOf(server), 1);
  await server.close();
}

afterAll(async () => {
  await Promise.all(open.map((server) => server.close()));
});

describe('upgrading a single-API deployment', () => {
  it('issues the same tokens for API_AUDIENCE to existing apps and services, and keeps an API the operator deleted deleted', async () => {
    const port = await freePort();
    const before = await deployment(port);
    const web = await registerClient(before);
    const user = await createUser(before);
    const service = await api(before.issuer, await adminToken(before.issuer), 'POST', '/clients', {
      client_name: 'Nightly job', grant_types: ['client_credentials'], response_types: [], redirect_uris: [],
    });
    const serviceId = String(service.body.client_id);
    const serviceSecret = String(service.body.client_secret);
    const userToken = async (server: TestServer) => decodeJwt((await codeFlow(web, {
      login: user, scope: 'openid api:read api:write', params: { prompt: 'consent', resource: API },
    })).tokens.access_token);
    const first = await userToken(before);
    expect(first).toMatchObject({ aud: API, scope: 'api:read api:write' });
    await stop(before);

    // What the release before registered APIs left behind: clients, users, no API records.
    const connection = await connectDatabase(mongoUri);
    for (const name of ['api_resources', 'api_catalog_state', 'client_resource_scopes']) await connection.collection(name).deleteMany({});
    await connection.close();

    const after = await deployment(port);
    const second = await userToken(after);
    expect({ aud: second.aud, scope: second.scope, exp: second.exp! - second.iat! }).toEqual({ aud: first.aud, scope: first.scope, exp: first.exp! - first.iat! });
    // Any client allowed client_credentials got every scope of the one API before; it still does.
    const res = await tokenRequest(after.issuer, serviceId, serviceSecret, { resource: API, scope: 'api:read api:write' });
    expect(res.status).toBe(200);
    expect(decodeJwt(((await res.json()) as { access_token: string }).access_token)).toMatchObject({ aud: API, scope: 'api:read api:write', client_id: serviceId });

    const token = await adminToken(after.issuer);
    const listed = (await api(after.issuer, token, 'GET', '/resources')).body.resources as Array<{ id: string; indicator: string; name: string }>;
    const imported = listed.find((resource) => resource.indicator === API)!;
    expect(imported.name).toBe('API');
    expect((await api(after.issuer, token, 'DELETE', `/resources/${imported.id}`)).status).toBe(200);
    await stop(after);

    const restarted = await deployment(port);
    const again = (await api(restarted.issuer, await adminToken(restarted.issuer), 'GET', '/resources')).body.resources as Array<{ indicator: string }>;
    expect(again.map((resource) => resource.indicator)).not.toContain(API);
  });
});
