import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { adminToken, api } from '../admin/support.js';
import { CALLBACK, createUser, discover, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { UserAgent } from '../support/user-agent.js';

/** The code flow with the request pushed first (RFC 9126), walked by openid-client. */
async function pushedCodeFlow(rp: RegisteredClient, user: { username: string; password: string }) {
  const verifier = client.randomPKCECodeVerifier();
  const url = await client.buildAuthorizationUrlWithPAR(rp.config, {
    redirect_uri: rp.redirectUri, scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  // Only the client and a handle travel through the browser; the request itself was pushed.
  expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
  const callback = new URL(await new UserAgent().authorize(url, rp.redirectUri, user));
  return client.authorizationCodeGrant(rp.config, callback, { pkceCodeVerifier: verifier, idTokenExpected: true });
}

/** An authorization request sent straight to the browser, as before PAR. */
async function plainRequest(rp: RegisteredClient): Promise<Response> {
  const url = client.buildAuthorizationUrl(rp.config, {
    redirect_uri: rp.redirectUri, scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256',
  });
  return fetch(url, { redirect: 'manual' });
}

describe('pushed authorization requests (RFC 9126)', () => {
  let server: TestServer;
  let user: Awaited<ReturnType<typeof createUser>>;

  beforeAll(async () => {
    server = await startServer();
    user = await createUser(server);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('advertises the endpoint, not required by default', async () => {
    const doc = await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
    expect(doc.pushed_authorization_request_endpoint).toBe(`${server.issuer}/request`);
    // Absent means false (RFC 9126 §5).
    expect(doc.require_pushed_authorization_requests).toBeUndefined();
  });

  it('signs in through a pushed request, and a plain one still works for other clients', async () => {
    const rp = await registerClient(server);
    const tokens = await pushedCodeFlow(rp, user);
    expect(tokens.claims()?.sub).toBe(user.sub);
    const plain = await plainRequest(rp);
    expect(plain.status).toBe(303);
    expect(plain.headers.get('location')).toMatch(/^\/interaction\//);
  });

  it('holds a client registered with require_pushed_authorization_requests to it', async () => {
    const admin = await adminToken(server.issuer);
    const created = await api(server.issuer, admin, 'POST', '/clients', {
      client_name: 'PAR only', redirect_uris: [CALLBACK], require_pushed_authorization_requests: true,
    });
    expect(created.status).toBe(201);
    const clientId = created.body.client_id as string;
    const config = await discover(server.issuer, clientId, { redirect_uris: [CALLBACK] }, client.ClientSecretBasic(created.body.client_secret as string));
    const rp: RegisteredClient = { clientId, clientSecret: created.body.client_secret as string, redirectUri: CALLBACK, config };

    const plain = await plainRequest(rp);
    expect(plain.status).toBe(303);
    const refused = new URL(plain.headers.get('location')!);
    expect(refused.origin + refused.pathname).toBe(CALLBACK);
    expect(refused.searchParams.get('error')).toBe('invalid_request');
    expect((await pushedCodeFlow(rp, user)).claims()?.sub).toBe(user.sub);
  });
});

describe('REQUIRE_PAR=true', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer({ env: { REQUIRE_PAR: 'true' } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('requires every client to push its requests, and says so in discovery', async () => {
    const doc = await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
    expect(doc.require_pushed_authorization_requests).toBe(true);
    const rp = await registerClient(server);
    const refused = new URL((await plainRequest(rp)).headers.get('location')!);
    expect(refused.searchParams.get('error')).toBe('invalid_request');
    const user = await createUser(server);
    expect((await pushedCodeFlow(rp, user)).claims()?.sub).toBe(user.sub);
  });
});
