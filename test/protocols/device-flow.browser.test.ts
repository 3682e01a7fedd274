import { setTimeout as sleep } from 'node:timers/promises';
import * as client from 'openid-client';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { defaults } from '../../config/defaults.js';
import { signInOnAnotherDevice } from '../../examples/snippets/device-flow.js';
import { adminToken, api } from '../admin/support.js';
import { browserUnavailable, launchBrowser, type HeadlessBrowser } from '../support/browser.js';
import { createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { tokenPost } from './support.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const DEVICE_POLL_MS = defaults.protocols.deviceFlow.pollIntervalSeconds * 1000;
const unavailable = browserUnavailable();
if (unavailable) console.warn(`[browser tests skipped] ${unavailable}`);

describe.skipIf(unavailable !== undefined)('device authorization grant (RFC 8628)', () => {
  let server: TestServer;
  let chromium: HeadlessBrowser;
  let tv: RegisteredClient;
  let user: Awaited<ReturnType<typeof createUser>>;

  beforeAll(async () => {
    [server, chromium] = await Promise.all([startServer(), launchBrowser()]);
    user = await createUser(server);
    tv = await registerClient(server, {
      client_name: 'Living Room TV', token_endpoint_auth_method: 'none', grant_types: [DEVICE_GRANT, 'refresh_token'],
      response_types: [], redirect_uris: [],
    });
  });
  afterAll(async () => {
    await chromium?.close();
    await server?.close();
  });

  /** A person on a phone: opens the verification URI, types the code, signs in, approves. */
  async function approveOnPhone(verificationUri: string, userCode: string, choice: 'confirm' | 'abort' = 'confirm'): Promise<Page> {
    const context = await chromium.newContext();
    const page = await context.newPage();
    await page.goto(verificationUri);
    await page.locator('input[name="user_code"]').fill(userCode.toLowerCase().replace('-', ''));
    await page.getByTestId('device-submit').click();
    await expect(page.getByTestId('device-code').textContent()).resolves.toBe(userCode);
    await expect(page.locator('h1').textContent()).resolves.toContain('Living Room TV');
    await page.getByTestId(`device-${choice}`).click();
    if (choice === 'abort') return page;
    await page.locator('input[name="login"]').fill(user.username);
    await page.locator('input[name="password"]').fill(user.password);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('approve').click();
    await page.getByTestId('notice').waitFor();
    return page;
  }

  /** Ten minutes passing, as the stored code sees it. */
  async function expireDeviceCode(deviceCode: string): Promise<void> {
    const codes = server.store.collection('DeviceCode');
    const stored = await codes.findOne({ _id: deviceCode });
    const payload = { ...JSON.parse(stored!.payload) as object, exp: Math.floor(Date.now() / 1000) - 1 };
    await codes.updateOne({ _id: deviceCode }, { $set: { payload: JSON.stringify(payload), expiresAt: new Date(Date.now() - 1000) } });
  }

  async function poll(deviceCode: string) {
    return tokenPost(`${server.issuer}/token`, { grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: tv.clientId });
  }

  it('advertises the endpoint and the grant', async () => {
    const meta = await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
    expect(meta.device_authorization_endpoint).toBe(`${server.issuer}/device/auth`);
    expect(meta.grant_types_supported).toContain(DEVICE_GRANT);
  });

  it('signs a device in: code typed on the phone, tokens polled by openid-client', async () => {
    // The documented command-line app (examples/snippets/device-flow.ts), with the person
    // approving on a phone meanwhile.
    let shown: (message: string) => void = () => undefined;
    const message = new Promise<string>((resolve) => { shown = resolve; });
    const signedIn = signInOnAnotherDevice(server.issuer, tv.clientId, shown);
    const [, uri, userCode] = /^Open (\S+) and enter (\S+)$/.exec(await message)!;
    expect(userCode).toMatch(/^[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}$/);
    expect(uri).toBe(`${server.issuer}/device`);

    const page = await approveOnPhone(uri!, userCode!);
    await expect(page.getByTestId('notice').textContent()).resolves.toContain('Living Room TV');
    await page.context().close();

    const tokens = await signedIn;
    expect(tokens.claims()?.sub).toBe(user.sub);
    expect(tokens.refresh_token).toBeTruthy();
  });

  it('tells the device authorization_pending until approval, and the code is single-use', async () => {
    const started = await client.initiateDeviceAuthorization(tv.config, { scope: 'openid' });
    expect((await poll(started.device_code)).body.error).toBe('authorization_pending');
    const page = await approveOnPhone(started.verification_uri, started.user_code);
    await page.context().close();
    await sleep(DEVICE_POLL_MS);
    expect((await poll(started.device_code)).status).toBe(200);
    await sleep(DEVICE_POLL_MS);
    expect((await poll(started.device_code)).body.error).toBe('invalid_grant');
  });

  it('tells a device that polls too fast to slow down', async () => {
    const started = await client.initiateDeviceAuthorization(tv.config, { scope: 'openid' });
    const answers = [await poll(started.device_code), await poll(started.device_code)];
    expect(answers.map((a) => a.body.error)).toEqual(['authorization_pending', 'slow_down']);
  });

  it('tells the person an expired code has expired', async () => {
    const started = await client.initiateDeviceAuthorization(tv.config, { scope: 'openid' });
    await expireDeviceCode(started.device_code);
    const context = await chromium.newContext();
    const page = await context.newPage();
    await page.goto(started.verification_uri);
    await page.locator('input[name="user_code"]').fill(started.user_code);
    await page.getByTestId('device-submit').click();
    await expect(page.getByTestId('device-error').textContent()).resolves.toContain('expired');
    await context.close();
  });

  it('answers expired_token once the code has expired', async () => {
    const started = await client.initiateDeviceAuthorization(tv.config, { scope: 'openid' });
    await expireDeviceCode(started.device_code);
    expect((await poll(started.device_code)).body.error).toBe('expired_token');
  });

  it('answers access_denied when the person cancels on the phone', async () => {
    const started = await client.initiateDeviceAuthorization(tv.config, { scope: 'openid' });
    const page = await approveOnPhone(started.verification_uri, started.user_code, 'abort');
    await page.context().close();
    expect((await poll(started.device_code)).body.error).toBe('access_denied');
  });

  it('issues nothing when the user is revoked between approval and polling', async () => {
    const started = await client.initiateDeviceAuthorization(tv.config, { scope: 'openid offline_access' });
    const page = await approveOnPhone(started.verification_uri, started.user_code);
    await page.context().close();
    const admin = await adminToken(server.issuer);
    expect((await api(server.issuer, admin, 'POST', `/users/${user.sub}/revoke`)).status).toBe(200);
    expect((await poll(started.device_code)).body.error).toBe('invalid_grant');
  });

  it('counts typed codes per network, so parallel guesses stop at the limit', async () => {
    const guesses = await Promise.all([...Array(30)].map(async () => {
      const form = await fetch(`${server.issuer}/device`);
      const cookie = form.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
      const xsrf = /name="xsrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? '';
      const res = await fetch(`${server.issuer}/device`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
        body: new URLSearchParams({ xsrf, user_code: 'BCDF-GHJK' }),
      });
      return res.status;
    }));
    expect(guesses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(10);
    expect(guesses.filter((status) => status === 200).length).toBeLessThanOrEqual(20);
  });
});
