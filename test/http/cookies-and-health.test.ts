import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';

let direct: TestServer;
let proxied: TestServer;

beforeAll(async () => {
  direct = await startServer();
  proxied = await startServer({ env: { TRUST_PROXY: 'true' } });
});

afterAll(async () => {
  await direct?.close();
  await proxied?.close();
});

/** Starts an authorization request (which sets the interaction cookies) and returns them. */
async function authorizationCookies(server: TestServer, headers: Record<string, string> = {}): Promise<string[]> {
  const rp: RegisteredClient = await registerClient(server);
  const url = new URL('/auth', server.issuer);
  url.search = new URLSearchParams({
    client_id: rp.clientId, response_type: 'code', scope: 'openid', redirect_uri: rp.redirectUri,
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
  }).toString();
  const res = await fetch(url, { redirect: 'manual', headers });
  expect(res.status).toBe(303);
  return res.headers.getSetCookie();
}

describe('cookies', () => {
  it('are signed, HttpOnly and SameSite=Lax, and not Secure over plain http', async () => {
    const cookies = await authorizationCookies(direct);
    expect(cookies.length).toBeGreaterThan(0);
    expect(cookies.some((c) => c.startsWith('_interaction.sig='))).toBe(true);
    for (const cookie of cookies) {
      expect(cookie).toMatch(/;\s*httponly/i);
      expect(cookie).toMatch(/;\s*samesite=lax/i);
      expect(cookie).not.toMatch(/;\s*secure/i);
    }
  });

  it('are Secure behind a TLS-terminating proxy when TRUST_PROXY is set', async () => {
    const cookies = await authorizationCookies(proxied, { 'x-forwarded-proto': 'https' });
    for (const cookie of cookies) expect(cookie).toMatch(/;\s*secure/i);
  });

  it('ignore a forged X-Forwarded-Proto when the proxy is not trusted', async () => {
    const cookies = await authorizationCookies(direct, { 'x-forwarded-proto': 'https' });
    for (const cookie of cookies) expect(cookie).not.toMatch(/;\s*secure/i);
  });
});

describe('health', () => {
  it('reports alive and, with MongoDB answering, ready', async () => {
    expect(await (await fetch(new URL('/health/alive', direct.issuer))).json()).toEqual({ status: 'ok' });
    const ready = await fetch(new URL('/health/ready', direct.issuer));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok' });
  });
});
