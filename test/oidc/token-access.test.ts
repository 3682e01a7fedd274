import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { codeFlow, createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { grantClientScopes } from '../admin/support.js';

let server: TestServer;
let appA: RegisteredClient;
let appB: RegisteredClient;
let spa: RegisteredClient;
let resourceServer: RegisteredClient;
let service: RegisteredClient;
let user: Awaited<ReturnType<typeof createUser>>;

/** The tokens one sign-in gives app A: opaque access token, JWT access token for the API, refresh token. */
interface Holdings { opaque: string; jwt: string; refresh: string }

beforeAll(async () => {
  server = await startServer();
  user = await createUser(server);
  [appA, appB, spa, resourceServer, service] = await Promise.all([
    registerClient(server, { client_name: 'App A' }),
    registerClient(server, { client_name: 'App B' }),
    registerClient(server, { client_name: 'SPA', token_endpoint_auth_method: 'none' }),
    registerClient(server, {
      client_name: 'Notes API', grant_types: ['client_credentials'], response_types: [], redirect_uris: [],
      resource_server_audiences: [server.settings.apiAudience],
    }),
    registerClient(server, { client_name: 'Service', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] }),
  ]);
});
afterAll(async () => server?.close());

async function signIn(rp: RegisteredClient): Promise<Holdings> {
  const consent = { login: user, scope: 'openid offline_access api:read', params: { prompt: 'consent', resource: server.settings.apiAudience } };
  const withJwt = await codeFlow(rp, consent);
  const opaque = await codeFlow(rp, { scope: 'openid', agent: withJwt.agent });
  return { jwt: withJwt.tokens.access_token, refresh: withJwt.tokens.refresh_token!, opaque: opaque.tokens.access_token };
}

/** A form POST to one of the token endpoints with the caller's own credentials, as RFC 7662/7009 clients send it. */
async function call(endpoint: 'introspection' | 'revocation', caller: RegisteredClient, form: Record<string, string>, post = false): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const body = new URLSearchParams(form);
  if (!caller.clientSecret) body.set('client_id', caller.clientId);
  else if (post) { body.set('client_id', caller.clientId); body.set('client_secret', caller.clientSecret); }
  else headers.authorization = `Basic ${Buffer.from(`${caller.clientId}:${caller.clientSecret}`).toString('base64')}`;
  return fetch(`${server.issuer}/token/${endpoint}`, { method: 'POST', headers, body });
}

async function introspect(caller: RegisteredClient, token: string, hint?: string, post = false): Promise<Record<string, unknown>> {
  const res = await call('introspection', caller, { token, ...(hint ? { token_type_hint: hint } : {}) }, post);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

async function revoke(caller: RegisteredClient, token: string, hint?: string): Promise<Response> {
  return call('revocation', caller, { token, ...(hint ? { token_type_hint: hint } : {}) });
}

async function serviceJwt(): Promise<string> {
  await grantClientScopes(server.issuer, service.clientId, server.settings.apiAudience, ['api:read']);
  const res = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${service.clientId}:${service.clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: server.settings.apiAudience, scope: 'api:read' }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

describe('introspection (RFC 7662 §4): the token\'s own client or a resource server of its audience', () => {
  it('tells app A about its own tokens of every kind', async () => {
    const held = await signIn(appA);
    for (const token of Object.values(held)) {
      expect(await introspect(appA, token)).toMatchObject({ active: true, client_id: appA.clientId, sub: user.sub });
    }
  });

  it('tells app B, a public client and a plain service nothing about app A\'s tokens, however they ask', async () => {
    const held = await signIn(appA);
    const unknown = await introspect(appB, 'not-a-token-we-issued');
    expect(unknown).toEqual({ active: false });
    const attempts = [];
    for (const caller of [appB, spa, service]) {
      for (const [kind, token] of Object.entries(held)) {
        for (const hint of [undefined, 'access_token', 'refresh_token', 'ACCESS_TOKEN']) {
          attempts.push(introspect(caller, token, hint).then((body) => ({ caller: caller.clientId, kind, hint, body })));
        }
        if (caller.clientSecret) attempts.push(introspect(caller, token, undefined, true).then((body) => ({ caller: caller.clientId, kind, hint: 'post', body })));
      }
    }
    const answers = await Promise.all(attempts);
    expect(answers.filter(({ body }) => body.active !== false || Object.keys(body).length !== 1)).toEqual([]);
    // The same tokens are still live for their owner: "inactive" above was the policy, not the token.
    expect((await introspect(appA, held.refresh)).active).toBe(true);
  });

  it('tells the API\'s registered resource server about JWTs for the API, but never about refresh tokens or opaque tokens', async () => {
    const held = await signIn(appA);
    expect(await introspect(resourceServer, held.jwt)).toMatchObject({
      active: true, client_id: appA.clientId, sub: user.sub, aud: server.settings.apiAudience, scope: 'api:read',
    });
    expect(await introspect(resourceServer, held.refresh)).toEqual({ active: false });
    expect(await introspect(resourceServer, held.opaque)).toEqual({ active: false });
    expect(await introspect(resourceServer, await serviceJwt())).toMatchObject({ active: true, client_id: service.clientId });
  });

  it('stops answering a resource server the moment its registration is withdrawn', async () => {
    const held = await signIn(appA);
    const record = (await server.store.collection('Client').findOne({ _id: resourceServer.clientId }))!;
    const payload = JSON.parse(record.payload) as Record<string, unknown>;
    await server.store.collection('Client').updateOne({ _id: resourceServer.clientId }, {
      $set: { payload: JSON.stringify({ ...payload, resource_server_audiences: [] }) },
    });
    try {
      expect(await introspect(resourceServer, held.jwt)).toEqual({ active: false });
    } finally {
      await server.store.collection('Client').updateOne({ _id: resourceServer.clientId }, { $set: { payload: record.payload } });
    }
    expect((await introspect(resourceServer, held.jwt)).active).toBe(true);
  });
});

describe('revocation (RFC 7009): a client revokes only its own tokens', () => {
  it('answers another client\'s revocation attempts like an unknown token and revokes nothing, even in parallel with the owner\'s refreshes', async () => {
    const held = await signIn(appA);
    const attempts = [appB, spa, resourceServer, service].flatMap((caller) => (
      Object.values(held).flatMap((token) => [revoke(caller, token), revoke(caller, token, 'refresh_token'), revoke(caller, token, 'access_token')])
    ));
    const [responses, refreshed] = await Promise.all([
      Promise.all(attempts),
      client.refreshTokenGrant(appA.config, held.refresh),
    ]);
    const unknown = await revoke(appB, 'not-a-token-we-issued');
    for (const res of [...responses, unknown]) {
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('');
    }
    // A's access tokens and its rotated refresh token are all still good.
    expect((await introspect(appA, held.opaque)).active).toBe(true);
    expect((await introspect(appA, held.jwt)).active).toBe(true);
    expect((await client.refreshTokenGrant(appA.config, refreshed.refresh_token!)).access_token).toBeTruthy();
  });

  it('lets app A revoke its own JWT access token, which ends its grant with the refresh token', async () => {
    const held = await signIn(appA);
    const res = await revoke(appA, held.jwt, 'access_token');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBeNull();
    expect(await res.text()).toBe('');
    expect(await introspect(resourceServer, held.jwt)).toEqual({ active: false });
    expect(await introspect(appA, held.refresh)).toEqual({ active: false });
    await expect(client.refreshTokenGrant(appA.config, held.refresh)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});

describe('revocation responses', () => {
  it('answer 200 with no body and no Content-Type for a revoked token, an unknown one and a foreign JWT', async () => {
    const held = await signIn(appA);
    for (const token of [held.opaque, held.refresh, 'not-a-token-we-issued', 'eyJhbGciOiJub25lIn0.e30.']) {
      const res = await revoke(appA, token);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBeNull();
      expect(res.headers.get('content-length')).toBe('0');
      expect(await res.text()).toBe('');
    }
    await expect(client.refreshTokenGrant(appA.config, held.refresh)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('are accepted by openid-client\'s tokenRevocation', async () => {
    const held = await signIn(appA);
    await expect(client.tokenRevocation(appA.config, held.refresh, { token_type_hint: 'refresh_token' })).resolves.toBeUndefined();
  });

  it('still refuse a call without client authentication', async () => {
    const res = await fetch(`${server.issuer}/token/revocation`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: 'x' }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });
});
