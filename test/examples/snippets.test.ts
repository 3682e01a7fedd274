import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createApp } from '../../examples/snippets/express-openid-connect.js';
import { accessTokenVerifier, BearerError } from '../../examples/snippets/jose-resource-server.js';
import * as openidClient from '../../examples/snippets/openid-client.js';
import { adminToken } from '../admin/support.js';
import { codeFlow, createUser, registerClient } from '../support/relying-party.js';
import { freePort, startServer, type TestServer } from '../support/server.js';
import { UserAgent } from '../support/user-agent.js';

/** Every snippet docs/integrate.md quotes, quoted whole: the page shows the code these tests run. */
const SNIPPETS = ['express-openid-connect.ts', 'openid-client.ts', 'authlib_client.py', 'spa.js', 'jose-resource-server.ts'];
const snippet = (name: string) => readFile(new URL(`../../examples/snippets/${name}`, import.meta.url), 'utf8');

let server: TestServer;
let user: Awaited<ReturnType<typeof createUser>>;

beforeAll(async () => {
  server = await startServer();
  user = await createUser(server);
});
afterAll(async () => {
  await server?.close();
});

describe('docs/integrate.md', () => {
  it.each(SNIPPETS)('quotes examples/snippets/%s exactly', async (name) => {
    const page = await readFile(new URL('../../docs/integrate.md', import.meta.url), 'utf8');
    expect(page).toContain(`\n${await snippet(name)}\`\`\``);
  });
});

describe('express-openid-connect', () => {
  it('signs a user in and req.oidc.user holds the profile from the ID token', async () => {
    const port = await freePort();
    const baseURL = `http://127.0.0.1:${port}`;
    const rp = await registerClient(server, { redirect_uris: [`${baseURL}/callback`] });
    const http: Server = createApp(server.issuer, rp.clientId, rp.clientSecret!, baseURL).listen(port, '127.0.0.1');
    await once(http, 'listening');
    try {
      const agent = new UserAgent();
      const callback = await agent.authorize(`${baseURL}/login`, rp.redirectUri, user);
      const landed = await agent.request(callback);
      expect(landed.status).toBe(302);
      const profile = await agent.request(`${baseURL}/profile`);
      expect(profile.status).toBe(200);
      expect(await profile.json()).toMatchObject({ sub: user.sub, preferred_username: user.username, name: user.name, email: user.email });
    } finally {
      http.closeAllConnections();
      http.close();
    }
  });
});

describe('openid-client', () => {
  it('signs in with a JWT for the API, rotates the refresh token and reads userinfo', async () => {
    const rp = await registerClient(server);
    const config = await openidClient.connect(server.issuer, rp.clientId, rp.clientSecret!);
    const { url, checks } = await openidClient.startSignIn(config, rp.redirectUri, server.settings.apiAudience);
    const callback = await new UserAgent().authorize(url, rp.redirectUri, user);
    const tokens = await openidClient.finishSignIn(config, new URL(callback), checks);
    expect(tokens.claims()).toMatchObject({ sub: user.sub, name: user.name, email: user.email });
    expect(decodeJwt(tokens.access_token)).toMatchObject({ aud: server.settings.apiAudience, scope: 'api:read' });

    const next = await openidClient.refresh(config, tokens.refresh_token!);
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    expect(decodeJwt(next.access_token).aud).toBe(server.settings.apiAudience);
    await expect(openidClient.refresh(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('gets a userinfo token from a refresh narrowed to OpenID scopes, and a JWT when an API scope is named', async () => {
    const rp = await registerClient(server);
    const { tokens } = await codeFlow(rp, {
      login: user, scope: 'openid profile email offline_access api:read', params: { prompt: 'consent', resource: server.settings.apiAudience },
    });
    const config = await openidClient.connect(server.issuer, rp.clientId, rp.clientSecret!);
    const { userinfo, refreshToken } = await openidClient.userinfo(config, tokens.refresh_token!, user.sub);
    expect(userinfo).toMatchObject({ sub: user.sub, preferred_username: user.username, email: user.email });

    const mixed = await client.refreshTokenGrant(config, refreshToken, { scope: 'openid api:read' });
    expect(decodeJwt(mixed.access_token)).toMatchObject({ aud: server.settings.apiAudience, scope: 'api:read' });
  });
});

// Debian's python3-authlib lives in the system Python, which a pyenv shim on PATH may hide.
const python = ['python3', '/usr/bin/python3'].find((bin) => spawnSync(bin, ['-c', 'import authlib, requests']).status === 0);
const noAuthlib = python ? undefined : 'python3 with authlib is missing (apt-get install python3-authlib)';
if (noAuthlib) console.warn(`[Authlib snippet skipped] ${noAuthlib}`);

describe.skipIf(noAuthlib !== undefined)('Python Authlib', () => {
  it('signs in with PKCE, verifies the ID token and reads userinfo', async () => {
    const rp = await registerClient(server);
    const child = spawn(python!, [new URL('../../examples/snippets/authlib_client.py', import.meta.url).pathname], {
      env: { ...process.env, ISSUER: server.issuer, CLIENT_ID: rp.clientId, CLIENT_SECRET: rp.clientSecret!, REDIRECT_URI: rp.redirectUri, AUTHLIB_INSECURE_TRANSPORT: '1' },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const url = new URL((await lines.next()).value as string);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    child.stdin!.end(`${await new UserAgent().authorize(url, rp.redirectUri, user)}\n`);
    const result = JSON.parse((await lines.next()).value as string) as Record<string, Record<string, unknown>>;
    expect(result.id_token_claims).toMatchObject({ sub: user.sub, aud: rp.clientId, name: user.name, email: user.email });
    expect(result.userinfo).toMatchObject({ sub: user.sub, preferred_username: user.username });
  });
});

describe('a resource server with jose', () => {
  it('accepts an access token for its audience with the route scope and refuses everything else', async () => {
    const verify = accessTokenVerifier(server.issuer, server.settings.apiAudience);
    const rp = await registerClient(server);
    const { tokens } = await codeFlow(rp, { login: user, scope: 'openid api:read', params: { resource: server.settings.apiAudience } });

    await expect(verify(tokens.access_token, 'api:read')).resolves.toMatchObject({ sub: user.sub, client_id: rp.clientId });
    await expect(verify(tokens.access_token, 'api:write')).rejects.toMatchObject({ status: 403, error: 'insufficient_scope' });
    // Signed by the same keys, but not an access token for this API.
    for (const other of [tokens.id_token!, await adminToken(server.issuer), `${tokens.access_token.slice(0, -4)}AAAA`]) {
      const refusal = await verify(other, 'api:read').catch((err: unknown) => err);
      expect(refusal).toBeInstanceOf(BearerError);
      expect(refusal).toMatchObject({ status: 401, error: 'invalid_token' });
    }
  });
});
