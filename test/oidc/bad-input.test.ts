import * as client from 'openid-client';
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CALLBACK, createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { UserAgent } from '../support/user-agent.js';

let server: TestServer;
let user: Awaited<ReturnType<typeof createUser>>;
let confidential: RegisteredClient;
let publicClient: RegisteredClient;

beforeAll(async () => {
  server = await startServer();
  user = await createUser(server);
  confidential = await registerClient(server);
  publicClient = await registerClient(server, { token_endpoint_auth_method: 'none' });
});

afterAll(async () => {
  await server?.close();
});

/** Reads the body once and checks it leaks no stack trace or file paths. */
async function clean(res: Response): Promise<string> {
  const body = await res.text();
  expect(res.status, body.slice(0, 300)).toBeLessThan(500);
  expect(body).not.toMatch(/\bat [^\n]*\(?(\/|file:\/\/)[^\s)]+\.(?:[cm]?js|ts):\d+/);
  expect(body).not.toContain('node_modules');
  return body;
}

function basicAuth(rp: RegisteredClient): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(rp.clientId)}:${encodeURIComponent(rp.clientSecret!)}`).toString('base64')}`;
}

function post(url: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body, redirect: 'manual' });
}

function authUrl(params: Record<string, string>): string {
  const url = new URL(`${server.issuer}/auth`);
  url.search = new URLSearchParams({ response_type: 'code', scope: 'openid', ...params }).toString();
  return url.href;
}

async function pkceParams(): Promise<Record<string, string>> {
  return { code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256' };
}

/** Opens a login page in a fresh browser session; returns the agent and the form's action. */
async function openLoginForm(): Promise<{ agent: UserAgent; action: string }> {
  const agent = new UserAgent();
  const url = authUrl({ client_id: confidential.clientId, redirect_uri: CALLBACK, ...(await pkceParams()) });
  const { res, url: at } = await agent.follow(url, CALLBACK);
  const html = await clean(res);
  expect(html).toContain('name="password"');
  const uid = /\/interaction\/([\w-]+)\/login/.exec(html)![1];
  return { agent, action: new URL(`/interaction/${uid}/login`, at).href };
}

function alertText(html: string): string | undefined {
  return /role="alert"[^>]*>([^<]*)</.exec(html)?.[1]?.trim();
}

describe('authorization requests the server must refuse without redirecting', () => {
  it('shows an error for an unknown client_id and never redirects to the given URI', async () => {
    const res = await fetch(authUrl({ client_id: 'no-such-client', redirect_uri: 'https://attacker.example/cb', ...(await pkceParams()) }), { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await clean(res)).toContain('invalid_client');
  });

  it('shows an error for a redirect_uri the client did not register and does not redirect', async () => {
    const res = await fetch(authUrl({ client_id: confidential.clientId, redirect_uri: 'https://attacker.example/cb', ...(await pkceParams()) }), { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await clean(res)).toContain('redirect_uri');
  });

  it('sends a public client that omits PKCE back with invalid_request', async () => {
    const res = await fetch(authUrl({ client_id: publicClient.clientId, redirect_uri: CALLBACK, state: 's1' }), { redirect: 'manual' });
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(CALLBACK);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('state')).toBe('s1');
  });
});

describe('login form', () => {
  it('shows the same message for a wrong password and an unknown user', async () => {
    const wrong = await openLoginForm();
    const a = await wrong.agent.request(wrong.action, { form: { login: user.username, password: 'not-the-password' } });
    const htmlA = await clean(a);
    const unknown = await openLoginForm();
    const b = await unknown.agent.request(unknown.action, { form: { login: 'nobody-here', password: 'not-the-password' } });
    const htmlB = await clean(b);

    expect(a.headers.get('location')).toBeNull();
    expect(htmlA).toContain('name="password"');
    expect(htmlB).toContain('name="password"');
    expect(alertText(htmlA)).toBeTruthy();
    expect(alertText(htmlA)).toBe(alertText(htmlB));
    expect(a.status).toBe(b.status);
  });

  const injections: Array<[string, string, string]> = [
    ['urlencoded $ne', 'application/x-www-form-urlencoded', 'login[$ne]=x&password[$ne]=x'],
    ['urlencoded $gt', 'application/x-www-form-urlencoded', 'login[$gt]=&password[$gt]='],
    ['JSON $ne', 'application/json', JSON.stringify({ login: { $ne: null }, password: { $ne: null } })],
  ];
  for (const [label, type, body] of injections) {
    it(`does not sign anyone in with operator injection (${label})`, async () => {
      const { agent, action } = await openLoginForm();
      const cookie = [...agent.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      const res = await fetch(action, { method: 'POST', headers: { 'content-type': type, cookie, accept: 'text/html' }, body, redirect: 'manual' });
      const html = await clean(res);
      expect(res.headers.get('location')).toBeNull();
      expect(res.status).toBeGreaterThanOrEqual(200);
      if (res.status < 400) expect(html).toContain('name="password"');
      if (html.includes('name="password"')) expect(alertText(html)).toBeTruthy();

      // The session is still anonymous: resuming the authorization shows the login form again.
      const again = await agent.follow(authUrl({ client_id: confidential.clientId, redirect_uri: CALLBACK, ...(await pkceParams()) }), CALLBACK);
      expect(again.url.startsWith(CALLBACK)).toBe(false);
      expect(await clean(again.res)).toContain('name="password"');
    });
  }
});

describe('token endpoint', () => {
  it('answers invalid_grant JSON for a made-up authorization code', async () => {
    const res = await post(`${server.issuer}/token`, new URLSearchParams({
      grant_type: 'authorization_code', code: 'garbage.not-a-code', redirect_uri: CALLBACK, code_verifier: 'a'.repeat(43),
    }).toString(), { authorization: basicAuth(confidential) });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/json/);
    expect(JSON.parse(await clean(res))).toMatchObject({ error: 'invalid_grant' });
  });

  it('answers invalid_grant JSON for a made-up refresh token', async () => {
    const res = await post(`${server.issuer}/token`, 'grant_type=refresh_token&refresh_token=%00%ff%20garbage', { authorization: basicAuth(confidential) });
    expect(res.status).toBe(400);
    expect(JSON.parse(await clean(res))).toMatchObject({ error: 'invalid_grant' });
  });

  it('answers a 4xx OAuth error, not a 500, for a malformed body', async () => {
    const res = await post(`${server.issuer}/token`, '{"grant_type":', { authorization: basicAuth(confidential), 'content-type': 'application/json' });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(JSON.parse(await clean(res))).toHaveProperty('error');
  });
});

describe('tokens signed by someone else', () => {
  async function foreignJwt(): Promise<string> {
    const { privateKey } = await generateKeyPair('RS256');
    return new SignJWT({ client_id: confidential.clientId, scope: 'openid' })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'foreign' })
      .setIssuer(server.issuer).setSubject(user.sub).setAudience(server.settings.apiAudience)
      .setIssuedAt().setExpirationTime('5m').setJti('foreign-jti')
      .sign(privateKey);
  }

  it('rejects a foreign JWT at userinfo with 401 invalid_token', async () => {
    const res = await fetch(confidential.config.serverMetadata().userinfo_endpoint!, { headers: { authorization: `Bearer ${await foreignJwt()}` } });
    expect(res.status).toBe(401);
    const body = await clean(res);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(`${challenge} ${body}`).toContain('invalid_token');
  });

  it('never reports a foreign JWT as active at introspection', async () => {
    const res = await post(`${server.issuer}/token/introspection`, new URLSearchParams({ token: await foreignJwt() }).toString(), {
      authorization: basicAuth(confidential),
    });
    const body = JSON.parse(await clean(res)) as Record<string, unknown>;
    if (res.status === 200) expect(body).toEqual({ active: false });
    else expect(body.error).toBe('unsupported_token_type');
  });
});

describe('revocation endpoint', () => {
  it('answers 200 for a garbage token (RFC 7009) and 400 when the token is missing', async () => {
    const garbage = await post(`${server.issuer}/token/revocation`, 'token=%7B%22%24ne%22%3Anull%7D&token_type_hint=refresh_token', {
      authorization: basicAuth(confidential),
    });
    expect(garbage.status).toBe(200);
    await clean(garbage);

    const missing = await post(`${server.issuer}/token/revocation`, 'token_type_hint=access_token', { authorization: basicAuth(confidential) });
    expect(missing.status).toBe(400);
    expect(JSON.parse(await clean(missing))).toMatchObject({ error: 'invalid_request' });
  });

  it('refuses revocation without client authentication', async () => {
    // oidc-provider answers 400 invalid_request when no client is named at all, 401 invalid_client for bad credentials.
    const anonymous = await post(`${server.issuer}/token/revocation`, 'token=abc');
    expect(anonymous.status).toBe(400);
    expect(JSON.parse(await clean(anonymous))).toMatchObject({ error: 'invalid_request' });
    const wrongSecret = await post(`${server.issuer}/token/revocation`, 'token=abc', {
      authorization: `Basic ${Buffer.from(`${confidential.clientId}:wrong-secret`).toString('base64')}`,
    });
    expect(wrongSecret.status).toBe(401);
    expect(JSON.parse(await clean(wrongSecret))).toMatchObject({ error: 'invalid_client' });
  });
});
