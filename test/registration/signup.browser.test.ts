import { mkdir } from 'node:fs/promises';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { browserUnavailable, launchBrowser, startCallbackRecorder, type CallbackRecorder, type HeadlessBrowser } from '../support/browser.js';
import { registerClient, type RegisteredClient } from '../support/relying-party.js';
import type { TestServer } from '../support/server.js';
import { linkIn, type SmtpCapture } from '../support/smtp.js';
import { startWithMail } from './support.js';

const SCREENS = '/tmp/screens';
const unavailable = browserUnavailable();
if (unavailable) console.warn(`[browser tests skipped] ${unavailable}`);

describe.skipIf(unavailable !== undefined)('a new user signs up in the middle of "Log in with …" (Chromium)', () => {
  let server: TestServer;
  let smtp: SmtpCapture;
  let chromium: HeadlessBrowser;
  let callback: CallbackRecorder;
  let rp: RegisteredClient;

  beforeAll(async () => {
    [{ server, smtp }, chromium, callback] = await Promise.all([startWithMail(), launchBrowser(), startCallbackRecorder()]);
    await mkdir(SCREENS, { recursive: true });
    rp = await registerClient(server, { client_name: 'Verified Mail App', redirect_uris: [callback.url], require_verified_email: true } as Record<string, unknown>);
  });
  afterAll(async () => {
    await chromium?.close();
    await callback?.close();
    await server?.close();
    await smtp?.close();
  });

  it('login page → create account → mailed link → back into the request → consent → code → tokens with email_verified', async () => {
    const context = await chromium.newContext();
    const page = await context.newPage();
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(rp.config, {
      redirect_uri: rp.redirectUri, scope: 'openid profile email', state, nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    await page.goto(url.href);
    await page.getByTestId('create-account').click();
    await page.locator('input[name="username"]').waitFor();
    await page.locator('input[name="username"]').fill('browser-newcomer');
    await page.locator('input[name="email"]').fill('Newcomer@Example.test');
    await page.locator('input[name="name"]').fill('New Comer');
    await page.locator('input[name="password"]').fill('browser-newcomer');
    await page.getByTestId('signup-submit').click();
    expect(await page.getByRole('alert').innerText()).toContain('must not be your username');
    await page.screenshot({ path: `${SCREENS}/signup-refused.png`, fullPage: true });
    await page.locator('input[name="password"]').fill('a long enough passphrase');
    await page.getByTestId('signup-submit').click();

    await page.getByTestId('verify-resend').waitFor();
    expect(await page.locator('body').innerText()).toContain('newcomer@example.test');
    await page.screenshot({ path: `${SCREENS}/verify-required.png`, fullPage: true });

    const link = linkIn(await smtp.next('newcomer@example.test'));
    expect(new URL(link).searchParams.get('token')).toMatch(/^[\w-]{43}$/);
    await page.goto(link);
    await page.getByTestId('verify-confirm').click();
    await page.getByTestId('notice-link').click();

    await page.getByTestId('approve').waitFor();
    await page.screenshot({ path: `${SCREENS}/consent-after-signup.png`, fullPage: true });
    await page.getByTestId('approve').click();
    await page.waitForURL((landed) => landed.href.startsWith(rp.redirectUri));
    const tokens = await client.authorizationCodeGrant(rp.config, new URL(page.url()), {
      pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
    });
    expect(tokens.claims()).toMatchObject({ preferred_username: 'browser-newcomer', name: 'New Comer', email: 'newcomer@example.test', email_verified: true });
    await context.close();
  });
});
