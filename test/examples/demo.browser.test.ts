import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateKeyPair, SignJWT } from 'jose';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { defaults } from '../../config/defaults.js';
import { adminToken, api } from '../admin/support.js';
import { browserUnavailable, launchBrowser, type HeadlessBrowser } from '../support/browser.js';
import { startServerProcess, type ServerProcess } from '../support/process.js';
import { freePort, freshDatabaseUri } from '../support/server.js';

const { demoUser, demoClient, demo } = defaults.development;

const unavailable = browserUnavailable();
if (unavailable) console.warn(`[browser tests skipped] ${unavailable}`);

/** `npm run demo` as a real process tree on free ports, clicked through in Chromium. */
describe.skipIf(unavailable !== undefined)('npm run demo', () => {
  let launcher: ServerProcess;
  let chromium: HeadlessBrowser;
  let context: BrowserContext;
  let page: Page;
  let appUrl: string;

  beforeAll(async () => {
    const [port, appPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    appUrl = `http://127.0.0.1:${appPort}`;
    [launcher, chromium] = await Promise.all([
      startServerProcess({
        script: 'examples/demo.ts',
        ready: /Demo ready/,
        env: {
          PORT: String(port),
          ISSUER: `http://127.0.0.1:${port}`,
          DEMO_APP_URL: appUrl,
          DEMO_API_URL: `http://127.0.0.1:${apiPort}`,
          MONGODB_URI: freshDatabaseUri('demo'),
          DATA_DIR: await mkdtemp(path.join(tmpdir(), 'oidc-demo-')),
        },
      }),
      launchBrowser(),
    ]);
    context = await chromium.newContext();
    page = await context.newPage();
  });

  afterAll(async () => {
    await context?.close();
    await chromium?.close();
    await launcher?.stop();
  });

  async function signInThroughTheProvider(): Promise<void> {
    const button = page.getByTestId('login');
    expect(await button.innerText()).toBe(`Log in with ${demo.providerName}`);
    await button.click();
    await page.locator('input[name="login"]').fill(demoUser.username);
    await page.locator('input[name="password"]').fill(demoUser.password);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('approve').click();
    await page.getByTestId('signed-in').waitFor();
  }

  const json = async (testId: string) => JSON.parse(await page.getByTestId(testId).innerText()) as Record<string, unknown>;
  const apiAnswers = async () => Promise.all((await page.getByTestId('api-answer').all()).map((a) => a.innerText()));

  it('signs in, calls the API, rotates, is signed out by a revocation and signs out at the provider', async () => {
    await page.goto(appUrl);
    await signInThroughTheProvider();

    const claims = await json('id-token-claims');
    expect(claims).toMatchObject({ preferred_username: demoUser.username, name: demoUser.name, email: demoUser.email, aud: demoClient.client_id });
    expect(await json('userinfo')).toMatchObject({ sub: claims.sub, preferred_username: demoUser.username, email: demoUser.email });

    for (const [button, status] of [['call-api-read', '200'], ['call-api-write', '200'], ['call-api-introspected', '200']] as const) {
      await page.getByTestId(button).click();
      expect(await page.getByTestId('api-status').innerText()).toBe(status);
      expect((await apiAnswers())[0]).toContain(String(claims.sub));
    }

    await page.getByTestId('refresh').click();
    const first = { before: await page.getByTestId('rt-before').innerText(), after: await page.getByTestId('rt-after').innerText() };
    expect(first.after).not.toBe(first.before);
    await page.getByTestId('refresh').click();
    expect(await page.getByTestId('rt-before').innerText()).toBe(first.after);
    await page.getByTestId('call-api-read').click();
    expect(await page.getByTestId('api-status').innerText()).toBe('200');

    // A forged logout token (right claims, wrong key) is refused and ends nothing.
    const forged = await forgedLogoutToken(launcher.issuer, String(claims.sub));
    const refused = await fetch(`${appUrl}${demo.paths.backchannelLogout}`, {
      method: 'POST', body: new URLSearchParams({ logout_token: forged }),
    });
    expect(refused.status).toBe(400);
    await page.reload();
    await page.getByTestId('signed-in').waitFor();

    // The administrator revokes the user; the provider's logout token ends the app's session.
    const token = await adminToken(launcher.issuer);
    const revoked = await api(launcher.issuer, token, 'POST', `/users/${String(claims.sub)}/revoke`);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ backchannel_logouts_sent: 1, backchannel_logouts_failed: 0 });
    await page.reload();
    await page.getByTestId('ended-by-provider').waitFor();
    expect(await page.getByTestId('signed-in').count()).toBe(0);

    // The old JWT still verifies offline until it expires; introspection knows it is revoked.
    await page.getByTestId('try-old-token').click();
    const [offline, introspected] = await apiAnswers();
    expect(offline).toMatch(/→ 200/);
    expect(introspected).toMatch(/→ 401/);
    expect(introspected).toContain('not active');

    // The provider's session is gone too: signing in again asks for the password.
    await signInThroughTheProvider();

    await page.getByTestId('sign-out').click();
    await page.getByTestId('logout-yes').click();
    await page.waitForURL((url) => url.origin === appUrl);
    expect(await page.getByTestId('notice').innerText()).toBe(`Signed out here and at ${demo.providerName}.`);
    await page.getByTestId('login').waitFor();
    expect(await page.getByTestId('signed-in').count()).toBe(0);
  });
});

async function forgedLogoutToken(issuer: string, sub: string): Promise<string> {
  const { privateKey } = await generateKeyPair('RS256');
  return new SignJWT({ events: { 'http://schemas.openid.net/event/backchannel-logout': {} }, jti: 'forged' })
    .setProtectedHeader({ alg: 'RS256', typ: 'logout+jwt', kid: 'forged' })
    .setIssuer(issuer).setAudience(demoClient.client_id).setSubject(sub).setIssuedAt()
    .sign(privateKey);
}
