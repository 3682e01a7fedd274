import { mkdir } from 'node:fs/promises';
import * as client from 'openid-client';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { browserUnavailable, launchBrowser, startCallbackRecorder, type CallbackRecorder, type HeadlessBrowser } from '../support/browser.js';
import { createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';

/** Not committed: the screenshots are for a human to look at after a run. */
const SCREENS = '/tmp/screens';
const CLIENT_NAME = 'Browser Test App';

const unavailable = browserUnavailable();
if (unavailable) console.warn(`[browser tests skipped] ${unavailable}`);

describe.skipIf(unavailable !== undefined)('login and consent in a real browser', () => {
  let server: TestServer;
  let chromium: HeadlessBrowser;
  let callback: CallbackRecorder;
  let rp: RegisteredClient;
  let user: Awaited<ReturnType<typeof createUser>>;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    [server, chromium, callback] = await Promise.all([startServer(), launchBrowser(), startCallbackRecorder()]);
    await mkdir(SCREENS, { recursive: true });
    user = await createUser(server);
    rp = await registerClient(server, { client_name: CLIENT_NAME, redirect_uris: [callback.url] });
  });

  afterAll(async () => {
    await chromium?.close();
    await callback?.close();
    await server?.close();
  });

  beforeEach(async () => {
    context = await chromium.newContext();
    page = await context.newPage();
  });

  afterEach(async () => {
    await context?.close();
  });

  async function authorizationRequest(scope: string) {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(rp.config, {
      redirect_uri: rp.redirectUri, scope, state, nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    return { url: url.href, verifier, state, nonce };
  }

  async function signIn(password: string): Promise<void> {
    await page.locator('input[name="login"]').fill(user.username);
    await page.locator('input[name="password"]').fill(password);
    await page.getByTestId('login-submit').click();
  }

  it('signs in, shows the consent page and returns to the client with a code it can redeem', async () => {
    const request = await authorizationRequest('openid profile email');
    await page.goto(request.url);
    await expect.poll(() => page.locator('input[name="password"]').count()).toBe(1);
    expect(await page.locator('body').innerText()).toContain(CLIENT_NAME);
    await page.screenshot({ path: `${SCREENS}/login.png`, fullPage: true });

    await signIn(user.password);
    await page.getByTestId('approve').waitFor();
    const consent = await page.locator('body').innerText();
    expect(consent).toContain(CLIENT_NAME);
    expect(consent).toContain('See your name and username');
    expect(consent).toContain('See your email address');
    await page.screenshot({ path: `${SCREENS}/consent.png`, fullPage: true });

    await page.getByTestId('approve').click();
    await page.waitForURL((url) => url.href.startsWith(rp.redirectUri));
    const landed = new URL(page.url());
    expect(landed.searchParams.get('code')).toBeTruthy();
    expect(landed.searchParams.get('state')).toBe(request.state);
    expect(callback.received.at(-1)?.href).toBe(landed.href);

    const tokens = await client.authorizationCodeGrant(rp.config, landed, {
      pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true,
    });
    expect(tokens.claims()!.sub).toBe(user.sub);
    const info = await client.fetchUserInfo(rp.config, tokens.access_token, user.sub);
    expect(info).toMatchObject({ preferred_username: user.username, email: user.email });
  });

  it('shows the form again with an alert after a wrong password', async () => {
    const request = await authorizationRequest('openid');
    await page.goto(request.url);
    await signIn('definitely-wrong');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect((await alert.innerText()).trim()).toBe('Invalid username or password.');
    expect(await page.locator('input[name="password"]').count()).toBe(1);
    expect(await page.locator('input[name="login"]').inputValue()).toBe(user.username);
    expect(page.url().startsWith(rp.redirectUri)).toBe(false);
  });

  it('returns error=access_denied to the client when the user denies consent', async () => {
    const request = await authorizationRequest('openid email');
    await page.goto(request.url);
    await signIn(user.password);
    await page.getByTestId('deny').click();
    await page.waitForURL((url) => url.href.startsWith(rp.redirectUri));
    const landed = new URL(page.url());
    expect(landed.searchParams.get('error')).toBe('access_denied');
    expect(landed.searchParams.get('code')).toBeNull();
    expect(landed.searchParams.get('state')).toBe(request.state);
  });

  it('returns error=access_denied to the client when the user cancels on the login page', async () => {
    const request = await authorizationRequest('openid');
    await page.goto(request.url);
    await page.getByTestId('login-cancel').click();
    await page.waitForURL((url) => url.href.startsWith(rp.redirectUri));
    const landed = new URL(page.url());
    expect(landed.searchParams.get('error')).toBe('access_denied');
    expect(landed.searchParams.get('state')).toBe(request.state);
  });
});
