import * as client from 'openid-client';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { axeViolations } from '../support/axe.js';
import { browserUnavailable, launchBrowser, type HeadlessBrowser } from '../support/browser.js';
import { createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { freePort, startServer, type TestServer } from '../support/server.js';
import { appCode } from '../support/two-step.js';

const unavailable = browserUnavailable();
if (unavailable) console.warn(`[browser tests skipped] ${unavailable}`);

/** Every page state that two-step verification and the device grant add, checked by axe-core. */
describe.skipIf(unavailable !== undefined)('the two-step and device pages are accessible', () => {
  let server: TestServer;
  let chromium: HeadlessBrowser;
  let strict: RegisteredClient;
  let tv: RegisteredClient;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    const port = await freePort();
    [server, chromium] = await Promise.all([startServer({ port, env: { ISSUER: `http://localhost:${port}` } }), launchBrowser()]);
    strict = await registerClient(server, { require_mfa: true, redirect_uris: ['http://127.0.0.1:1/cb'] } as Record<string, unknown>);
    tv = await registerClient(server, {
      client_name: 'Living Room TV', token_endpoint_auth_method: 'none',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code'], response_types: [], redirect_uris: [],
    });
    context = await chromium.newContext();
    page = await context.newPage();
  });
  afterAll(async () => {
    await context?.close();
    await chromium?.close();
    await server?.close();
  });

  async function expectAccessible(state: string): Promise<void> {
    expect(await axeViolations(page), state).toEqual([]);
  }

  it('from sign-in with a passkey button, through enrolment and recovery codes, to the second step', async () => {
    const user = await createUser(server);
    const url = client.buildAuthorizationUrl(strict.config, {
      redirect_uri: strict.redirectUri, scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    await page.goto(url.href);
    await expectAccessible('login with the passkey button');
    await page.locator('input[name="login"]').fill(user.username);
    await page.locator('input[name="password"]').fill(user.password);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('totp-secret').waitFor();
    await expectAccessible('enrolment');
    const secret = await page.getByTestId('totp-secret').textContent();
    await page.locator('input[name="code"]').fill('000000');
    await page.getByTestId('enrol-submit').click();
    await page.getByTestId('enrol-error').waitFor();
    await expectAccessible('enrolment with a wrong code');
    await page.locator('input[name="code"]').fill(appCode(secret!));
    await page.getByTestId('enrol-submit').click();
    await page.getByTestId('recovery-codes').waitFor();
    await expectAccessible('recovery codes');

    await context.clearCookies();
    await page.goto(url.href);
    await page.locator('input[name="login"]').fill(user.username);
    await page.locator('input[name="password"]').fill(user.password);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('second-step-submit').waitFor();
    await expectAccessible('second step');
    await page.getByTestId('use-recovery-code').click();
    await expectAccessible('second step with a recovery code');
  });

  it('the account center with two-step verification on, and adding a passkey', async () => {
    const user = await createUser(server);
    await context.clearCookies();
    await page.goto(`${server.issuer}/account`);
    await page.locator('input[name="login"]').fill(user.username);
    await page.locator('input[name="password"]').fill(user.password);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('setup-totp').waitFor();
    await expectAccessible('account center, two-step off');
    await page.getByTestId('add-passkey').click();
    await page.getByTestId('passkey-register').waitFor();
    await expectAccessible('adding a passkey');
  });

  it('the device pages', async () => {
    const started = await client.initiateDeviceAuthorization(tv.config, { scope: 'openid' });
    await page.goto(started.verification_uri);
    await expectAccessible('enter the code');
    await page.locator('input[name="user_code"]').fill('BCDF-GHJK');
    await page.getByTestId('device-submit').click();
    await page.getByTestId('device-error').waitFor();
    await expectAccessible('a wrong code');
    await page.locator('input[name="user_code"]').fill(started.user_code);
    await page.getByTestId('device-submit').click();
    await page.getByTestId('device-code').waitFor();
    await expectAccessible('confirm the device');
  });
});
