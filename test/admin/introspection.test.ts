import * as client from 'openid-client';
import { decodeJwt, SignJWT, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PASSWORD_ACR } from '../../src/mfa/acr.js';
import { CALLBACK, codeFlow, discover, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { adminToken, api, basic, Contract, grantClientScopes } from './support.js';

let server: TestServer;
let token: string;
let contract: Contract;
let app: RegisteredClient;
let resourceServer: { id: string; secret: string };
let publicApp: RegisteredClient;
let user: { id: string; username: string; password: string };

async function register(metadata: Record<string, unknown>): Promise<{ id: string; secret?: string }> {
  const res = await api(server.issuer, token, 'POST', '/clients', metadata);
  expect(res.status).toBe(201);
  return { id: String(res.body.client_id), secret: res.body.client_secret as string | undefined };
}

/** RFC 7662 introspection as a resource server does it: a form POST with its own credentials. */
async function introspect(value: string, caller: { id: string; secret?: string }): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const form: Record<string, string> = { token: value };
  if (caller.secret) headers.authorization = basic(caller.id, caller.secret);
  else form.client_id = caller.id;
  const res = await fetch(`${server.issuer}/token/introspection`, { method: 'POST', headers, body: new URLSearchParams(form) });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

async function apiToken(): Promise<string> {
  const { tokens } = await codeFlow(app, { login: user, scope: 'openid api:read', params: { resource: server.settings.apiAudience } });
  return tokens.access_token;
}

beforeAll(async () => {
  server = await startServer();
  token = await adminToken(server.issuer);
  contract = await Contract.fetch(`${server.issuer}/admin/openapi.json`);
  const web = await register({ client_name: 'Notes', redirect_uris: [CALLBACK] });
  app = { clientId: web.id, clientSecret: web.secret, redirectUri: CALLBACK, config: await discover(server.issuer, web.id, { redirect_uris: [CALLBACK] }, client.ClientSecretBasic(web.secret!)) };
  const rs = await register({
    client_name: 'Notes API', grant_types: ['client_credentials'], response_types: [], redirect_uris: [],
    resource_server_audiences: [server.settings.apiAudience],
  });
  resourceServer = { id: rs.id, secret: rs.secret! };
  const spa = await register({ client_name: 'SPA', redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none' });
  publicApp = { clientId: spa.id, clientSecret: undefined, redirectUri: CALLBACK, config: await discover(server.issuer, spa.id, { redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none' }, client.None()) };
  const created = await api(server.issuer, token, 'POST', '/users', { username: 'olivia', password: 'olivia-password' });
  user = { id: String(created.body.id), username: 'olivia', password: 'olivia-password' };
});
afterAll(async () => server?.close());

describe('introspecting JWT access tokens', () => {
  it('tells a resource server that a live JWT is active, with the RFC 7662 fields and how the user signed in', async () => {
    const jwt = await apiToken();
    const claims = decodeJwt(jwt);
    expect(await introspect(jwt, resourceServer)).toEqual({
      active: true, sub: user.id, client_id: app.clientId, scope: 'api:read', aud: server.settings.apiAudience,
      exp: claims.exp, iat: claims.iat, iss: server.issuer, jti: claims.jti, token_type: 'Bearer',
      acr: PASSWORD_ACR, amr: ['pwd'],
    });
  });

  it('lets a public client introspect only its own tokens', async () => {
    const jwt = await apiToken();
    expect(await introspect(jwt, { id: publicApp.clientId })).toEqual({ active: false });
    const own = await codeFlow(publicApp, { login: user, scope: 'openid api:read', params: { resource: server.settings.apiAudience } });
    expect(await introspect(own.tokens.access_token, { id: publicApp.clientId })).toMatchObject({ active: true, client_id: publicApp.clientId });
  });

  it('answers inactive once the grant is revoked', async () => {
    const jwt = await apiToken();
    const gid = String(decodeJwt(jwt).gid);
    const res = await api(server.issuer, token, 'DELETE', `/grants/${gid}`);
    expect(res.status).toBe(200);
    contract.check('DELETE', '/grants/{grantId}', res);
    expect(await introspect(jwt, resourceServer)).toEqual({ active: false });
  });

  it('answers inactive for tokens issued up to the account\'s revocation instant, active after it', async () => {
    const jwt = await apiToken();
    const { iat } = decodeJwt(jwt) as { iat: number };
    await server.accounts.model.updateOne({ _id: user.id }, { $set: { tokensValidAfter: new Date((iat - 1) * 1000) } });
    expect((await introspect(jwt, resourceServer)).active).toBe(true);
    await server.accounts.model.updateOne({ _id: user.id }, { $set: { tokensValidAfter: new Date(iat * 1000 + 500) } });
    expect(await introspect(jwt, resourceServer)).toEqual({ active: false });
    await server.accounts.model.updateOne({ _id: user.id }, { $unset: { tokensValidAfter: 1 } });
  });

  it('answers inactive while the account is disabled', async () => {
    const jwt = await apiToken();
    await server.accounts.model.updateOne({ _id: user.id }, { $set: { disabled: true } });
    expect(await introspect(jwt, resourceServer)).toEqual({ active: false });
    await server.accounts.model.updateOne({ _id: user.id }, { $set: { disabled: false } });
    expect((await introspect(jwt, resourceServer)).active).toBe(true);
  });

  it('answers inactive, not an error, for a JWT that is not ours', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const foreign = await new SignJWT({ client_id: app.clientId, scope: 'api:read', jti: 'x' })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt' }).setIssuer(server.issuer).setSubject(user.id)
      .setAudience(server.settings.apiAudience).setIssuedAt().setExpirationTime('5m').sign(privateKey);
    expect(await introspect(foreign, resourceServer)).toEqual({ active: false });
  });

  it('answers for client-credentials JWTs while the client exists', async () => {
    await grantClientScopes(server.issuer, resourceServer.id, server.settings.apiAudience, ['api:read']);
    const res = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: { authorization: basic(resourceServer.id, resourceServer.secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: server.settings.apiAudience, scope: 'api:read' }),
    });
    const { access_token: jwt } = (await res.json()) as { access_token: string };
    expect(await introspect(jwt, resourceServer)).toMatchObject({ active: true, sub: resourceServer.id, client_id: resourceServer.id });
    const other = await register({ client_name: 'Auditor', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
    await api(server.issuer, token, 'DELETE', `/clients/${resourceServer.id}`);
    expect(await introspect(jwt, { id: other.id, secret: other.secret })).toEqual({ active: false });
  });

  it('still introspects opaque tokens the usual way', async () => {
    const { tokens } = await codeFlow(app, { login: user, scope: 'openid' });
    expect(await client.tokenIntrospection(app.config, tokens.access_token)).toMatchObject({ active: true, sub: user.id });
  });
});
