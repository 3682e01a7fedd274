import * as client from 'openid-client';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AFTER_LOGOUT, codeFlow, createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { UserAgent } from '../support/user-agent.js';
import { grantClientScopes } from '../admin/support.js';

let server: TestServer;
let user: Awaited<ReturnType<typeof createUser>>;
let confidential: RegisteredClient;
let publicClient: RegisteredClient;
let jwks: ReturnType<typeof createRemoteJWKSet>;

beforeAll(async () => {
  server = await startServer();
  user = await createUser(server);
  confidential = await registerClient(server, {
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
  });
  publicClient = await registerClient(server, { token_endpoint_auth_method: 'none' });
  jwks = createRemoteJWKSet(new URL(`${server.issuer}/jwks`));
});

afterAll(async () => {
  await server?.close();
});

function basicAuth(rp: RegisteredClient): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(rp.clientId)}:${encodeURIComponent(rp.clientSecret!)}`).toString('base64')}`;
}

describe('discovery', () => {
  it('advertises the issuer, its endpoints, only the code flow and PKCE S256', async () => {
    const res = await fetch(`${server.issuer}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const meta = await res.json() as Record<string, unknown>;
    expect(meta.issuer).toBe(server.issuer);
    for (const endpoint of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri',
      'introspection_endpoint', 'revocation_endpoint', 'end_session_endpoint']) {
      expect(meta[endpoint], endpoint).toMatch(new RegExp(`^${server.issuer}/`));
    }
    expect(meta.jwks_uri).toBe(`${server.issuer}/jwks`);
    expect(meta.code_challenge_methods_supported).toContain('S256');
    expect(meta.code_challenge_methods_supported).not.toContain('plain');
    expect(meta.response_types_supported).toEqual(['code']);
    expect(meta.grant_types_supported).not.toContain('implicit');
    expect(meta.grant_types_supported).not.toContain('password');
  });

  it('is accepted by openid-client as the relying party', async () => {
    expect(confidential.config.serverMetadata().issuer).toBe(server.issuer);
    expect(confidential.config.serverMetadata().supportsPKCE()).toBe(true);
  });
});

describe('authorization code flow with PKCE', () => {
  it('signs a public client (no secret) in and returns a verifiable RS256 ID token', async () => {
    const { tokens, nonce } = await codeFlow(publicClient, { login: user });
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.id_token).toBeTruthy();
    expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('RS256');
    const { payload } = await jwtVerify(tokens.id_token!, jwks, {
      issuer: server.issuer, audience: publicClient.clientId, algorithms: ['RS256'],
    });
    expect(payload.sub).toBe(user.sub);
    expect(payload.nonce).toBe(nonce);
    expect(payload.exp).toBeGreaterThan(Date.now() / 1000);
  });

  it('signs a confidential client in and its access token works at userinfo', async () => {
    const { tokens } = await codeFlow(confidential, { login: user, scope: 'openid profile email' });
    const claims = tokens.claims()!;
    expect(claims.sub).toBe(user.sub);
    await jwtVerify(tokens.id_token!, jwks, { issuer: server.issuer, audience: confidential.clientId, algorithms: ['RS256'] });

    const info = await client.fetchUserInfo(confidential.config, tokens.access_token, user.sub);
    expect(info).toMatchObject({
      sub: user.sub, preferred_username: user.username, name: user.name, email: user.email, email_verified: true,
    });
  });

  it('signs ID tokens with ES256 for a client registered with id_token_signed_response_alg ES256', async () => {
    const es = await registerClient(server, { id_token_signed_response_alg: 'ES256' });
    const { tokens, nonce } = await codeFlow(es, { login: user });
    expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('ES256');
    const { payload } = await jwtVerify(tokens.id_token!, jwks, {
      issuer: server.issuer, audience: es.clientId, algorithms: ['ES256'],
    });
    expect(payload.nonce).toBe(nonce);
  });

  it('issues a JWT access token (RFC 9068) for the API resource', async () => {
    const { tokens } = await codeFlow(confidential, {
      login: user, scope: 'openid api:read', params: { resource: server.settings.apiAudience },
    });
    const header = decodeProtectedHeader(tokens.access_token);
    expect(header.typ).toBe('at+jwt');
    const { payload } = await jwtVerify(tokens.access_token, jwks, {
      issuer: server.issuer, audience: server.settings.apiAudience, typ: 'at+jwt',
    });
    expect(payload.sub).toBe(user.sub);
    expect(payload.client_id).toBe(confidential.clientId);
    expect(String(payload.scope).split(' ')).toContain('api:read');
    expect(String(payload.scope).split(' ')).not.toContain('api:write');
    expect(payload.jti).toEqual(expect.any(String));
    expect(payload.iat).toEqual(expect.any(Number));
    expect(payload.exp! - payload.iat!).toBeGreaterThan(0);
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(600);
  });
});

describe('refresh, introspection and revocation', () => {
  it('refreshes with offline_access, rotating the refresh token', async () => {
    const { tokens } = await codeFlow(confidential, {
      login: user, scope: 'openid offline_access', params: { prompt: 'consent' },
    });
    expect(tokens.refresh_token).toBeTruthy();
    const refreshed = await client.refreshTokenGrant(confidential.config, tokens.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    const info = await client.fetchUserInfo(confidential.config, refreshed.access_token, user.sub);
    expect(info.sub).toBe(user.sub);
  });

  it('introspects access and refresh tokens as active until they are revoked', async () => {
    const { tokens } = await codeFlow(confidential, {
      login: user, scope: 'openid offline_access', params: { prompt: 'consent' },
    });
    const at = await client.tokenIntrospection(confidential.config, tokens.access_token);
    expect(at).toMatchObject({ active: true, sub: user.sub, client_id: confidential.clientId });
    const rt = await client.tokenIntrospection(confidential.config, tokens.refresh_token!);
    expect(rt).toMatchObject({ active: true, client_id: confidential.clientId });

    const revoked = await fetch(confidential.config.serverMetadata().revocation_endpoint!, {
      method: 'POST',
      headers: { authorization: basicAuth(confidential), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.access_token, token_type_hint: 'access_token' }),
    });
    expect(revoked.status).toBe(200);
    expect((await client.tokenIntrospection(confidential.config, tokens.access_token)).active).toBe(false);

    await client.tokenRevocation(confidential.config, tokens.refresh_token!);
    expect((await client.tokenIntrospection(confidential.config, tokens.refresh_token!)).active).toBe(false);
    await expect(client.refreshTokenGrant(confidential.config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('answers 200 to revocation of an unknown token (RFC 7009)', async () => {
    const res = await fetch(confidential.config.serverMetadata().revocation_endpoint!, {
      method: 'POST',
      headers: { authorization: basicAuth(confidential), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: 'not-a-token-we-issued' }),
    });
    expect(res.status).toBe(200);
  });
});

describe('client credentials', () => {
  it('gives a confidential client a JWT access token for the API it was granted', async () => {
    await grantClientScopes(server.issuer, confidential.clientId, server.settings.apiAudience, ['api:read']);
    const tokens = await client.clientCredentialsGrant(confidential.config, {
      resource: server.settings.apiAudience, scope: 'api:read',
    });
    expect(decodeProtectedHeader(tokens.access_token).typ).toBe('at+jwt');
    const { payload } = await jwtVerify(tokens.access_token, jwks, {
      issuer: server.issuer, audience: server.settings.apiAudience, typ: 'at+jwt',
    });
    expect(payload.client_id).toBe(confidential.clientId);
    expect(payload.scope).toBe('api:read');
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(600);
  });
});

describe('RP-initiated logout', () => {
  it('asks for confirmation, signs out, returns to the client and forgets the session', async () => {
    const agent = new UserAgent();
    const { tokens } = await codeFlow(confidential, { login: user, agent });

    const endSession = client.buildEndSessionUrl(confidential.config, {
      id_token_hint: tokens.id_token!, post_logout_redirect_uri: AFTER_LOGOUT, state: 'bye',
    });
    const page = await agent.request(endSession);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('data-testid="logout-yes"');
    const action = /<form id="op\.logoutForm" method="post" action="([^"]+)"/.exec(html)?.[1];
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
    expect(action).toBeTruthy();
    expect(xsrf).toBeTruthy();

    const done = await agent.follow(new URL(action!, server.issuer), AFTER_LOGOUT, { form: { xsrf: xsrf!, logout: 'yes' } });
    const landed = new URL(done.url);
    expect(landed.origin + landed.pathname).toBe(AFTER_LOGOUT);
    expect(landed.searchParams.get('state')).toBe('bye');

    // The same browser must sign in again: the next authorization request shows the login form.
    const again = client.buildAuthorizationUrl(confidential.config, {
      redirect_uri: confidential.redirectUri, scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    const next = await agent.follow(again, confidential.redirectUri);
    expect(next.url.startsWith(confidential.redirectUri)).toBe(false);
    expect(await next.res.text()).toContain('name="password"');
  });
});
