import * as client from 'openid-client';
import type { BrowserContext, CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { MFA_ACR } from '../../src/mfa/acr.js';
import { browserUnavailable, launchBrowser, startCallbackRecorder, type CallbackRecorder, type HeadlessBrowser } from '../support/browser.js';
import { createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { freePort, startServer, type TestServer } from '../support/server.js';

const unavailable = browserUnavailable();
if (unavailable) console.warn(`[browser tests skipped] ${unavailable}`);

describe.skipIf(unavailable !== undefined)('passkeys in a real browser (DevTools virtual authenticator)', () => {
  let server: TestServer;
  let chromium: HeadlessBrowser;
  let callback: CallbackRecorder;
  let rp: RegisteredClient;
  let user: Awaited<ReturnType<typeof createUser>>;
  let context: BrowserContext;
  let page: Page;
  let cdp: CDPSession;
  let authenticatorId: string;

  beforeAll(async () => {
    // WebAuthn takes a domain as the relying party, never an IP address: the issuer is localhost.
    const port = await freePort();
    [server, chromium, callback] = await Promise.all([
      startServer({ port, env: { ISSUER: `http://localhost:${port}` } }), launchBrowser(), startCallbackRecorder(),
    ]);
    user = await createUser(server);
    rp = await registerClient(server, { client_name: 'Passkey App', redirect_uris: [callback.url] });
    context = await chromium.newContext();
    page = await context.newPage();
    cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    ({ authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    }));
  });

  afterAll(async () => {
    await context?.close();
    await chromium?.close();
    await callback?.close();
    await server?.close();
  });

  async function signInToApp(params: Record<string, string> = {}) {
    const verifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(rp.config, {
      redirect_uri: rp.redirectUri, scope: 'openid', nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...params,
    });
    await page.goto(url.href);
    return { verifier, nonce };
  }

  async function backAtApp(checks: { verifier: string; nonce: string }) {
    await page.getByTestId('approve').or(page.getByTestId('callback')).waitFor();
    if (await page.getByTestId('approve').isVisible()) await page.getByTestId('approve').click();
    await page.getByTestId('callback').waitFor();
    const tokens = await client.authorizationCodeGrant(rp.config, new URL(page.url()), { pkceCodeVerifier: checks.verifier, expectedNonce: checks.nonce, idTokenExpected: true });
    return tokens.claims()!;
  }

  it('adds a passkey in the account center', async () => {
    await page.goto(`${server.issuer}/account`);
    await page.locator('input[name="login"]').fill(user.username);
    await page.locator('input[name="password"]').fill(user.password);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('add-passkey').click();
    await page.locator('input[name="name"]').fill('Test laptop');
    await page.getByTestId('passkey-register').click();
    // The first factor: recovery codes, shown once.
    await page.getByTestId('recovery-codes').waitFor();
    await expect(page.getByTestId('recovery-codes').locator('li').count()).resolves.toBe(10);
    await page.getByTestId('continue').click();
    await expect(page.getByTestId('passkey-name').inputValue()).resolves.toBe('Test laptop');
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]!.isResidentCredential).toBe(true);
  });

  it('signs in to an app with the passkey alone: no password', async () => {
    await context.clearCookies();
    const checks = await signInToApp();
    await page.getByTestId('passkey-login').click();
    const claims = await backAtApp(checks);
    expect(claims.sub).toBe(user.sub);
    expect(claims.acr).toBe(MFA_ACR);
    expect(claims.amr).toEqual(expect.arrayContaining(['user', 'mfa']));
    expect((claims.amr as string[]).some((m) => m === 'hwk' || m === 'swk')).toBe(true);
    expect(claims.amr).not.toContain('pwd');
  });

  it('asks for the passkey as the second step after a password', async () => {
    await context.clearCookies();
    const checks = await signInToApp();
    await page.locator('input[name="login"]').fill(user.username);
    await page.locator('input[name="password"]').fill(user.password);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('passkey-authenticate').click();
    const claims = await backAtApp(checks);
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'mfa']));
    expect(claims.acr).toBe(MFA_ACR);
  });
});
