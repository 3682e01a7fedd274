import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { logoutReceiver, type LogoutReceiver } from '../admin/support.js';
import { browserUnavailable, launchBrowser, startCallbackRecorder, type CallbackRecorder, type HeadlessBrowser } from '../support/browser.js';
import { createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { connectApp, openAccount, refreshWorks, signInIfAsked } from './support.js';

const unavailable = browserUnavailable();
if (unavailable) console.warn(`[browser tests skipped] ${unavailable}`);

describe.skipIf(unavailable !== undefined)('the account center in a real browser', () => {
  let server: TestServer;
  let chromium: HeadlessBrowser;
  let callback: CallbackRecorder;
  let receiver: LogoutReceiver;
  let notes: RegisteredClient;
  let photos: RegisteredClient;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    [server, chromium, callback, receiver] = await Promise.all([
      startServer({ env: { OUTBOUND_PRIVATE_NETWORKS: 'true' } }), launchBrowser(), startCallbackRecorder(), logoutReceiver(),
    ]);
    notes = await registerClient(server, {
      client_name: 'Notes', redirect_uris: [callback.url], client_uri: 'https://notes.example',
      backchannel_logout_uri: receiver.url, backchannel_logout_session_required: true,
    });
    photos = await registerClient(server, { client_name: 'Photos', redirect_uris: [callback.url] });
  });

  afterAll(async () => {
    await chromium?.close();
    await callback?.close();
    await receiver?.close();
    await server?.close();
  });

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
  });

  async function newPage(): Promise<Page> {
    const context = await chromium.newContext();
    contexts.push(context);
    return context.newPage();
  }

  const appNames = (page: Page) => page.getByTestId('app').locator('strong').allInnerTexts();

  it('lists both connected apps; removing one ends its tokens and logs it out over the back channel, the other keeps working', async () => {
    const user = await createUser(server);
    const page = await newPage();
    const notesTokens = await connectApp(page, notes, user);
    const photosTokens = await connectApp(page, photos, user);

    await openAccount(page, server.issuer, user);
    expect(await appNames(page)).toEqual(['Notes', 'Photos']);
    const notesBlock = page.locator(`[data-testid="app"][data-client-id="${notes.clientId}"]`);
    expect(await notesBlock.innerText()).toContain('https://notes.example');
    expect(await notesBlock.innerText()).toContain('profile');
    const sessions = page.getByTestId('session');
    expect(await sessions.count()).toBe(1);
    expect(await sessions.first().innerText()).toMatch(/Chrome.*this device/s);

    const before = receiver.received.length;
    await notesBlock.getByTestId('remove-app').click();
    await page.getByTestId('notice').waitFor();
    expect(await appNames(page)).toEqual(['Photos']);

    expect(await refreshWorks(notes, notesTokens.refresh_token!)).toBe(false);
    expect(await refreshWorks(photos, photosTokens.refresh_token!)).toBe(true);
    const [logoutToken] = (await receiver.waitFor(before + 1)).slice(before);
    const { payload } = await jwtVerify(logoutToken!, createRemoteJWKSet(new URL(`${server.issuer}/jwks`)), {
      issuer: server.issuer, audience: notes.clientId, typ: 'logout+jwt',
    });
    expect(payload.sub).toBe(user.sub);
    expect(await page.getByTestId('activity').innerText()).toContain('You removed the access of Notes');
    const events = await server.events.model.find({ accountId: user.sub, type: 'grant.removed_by_user' }).lean();
    expect(events.map((event) => event.clientId)).toEqual([notes.clientId]);
  });

  it('is linked from the login page and signs in there like any app, without a consent page', async () => {
    const user = await createUser(server);
    const page = await newPage();
    await page.goto(`${server.issuer}/account`);
    await page.getByTestId('login-submit').waitFor();
    expect(await page.getByTestId('account-center').getAttribute('href')).toBe('/account');
    await signInIfAsked(page, user);
    await page.waitForURL(`${server.issuer}/account`);
    expect(await page.getByTestId('username').innerText()).toBe(user.username);
    expect(await page.getByTestId('no-apps').count()).toBe(1);
    const csp = (await page.request.get(`${server.issuer}/account`)).headers();
    expect(csp['content-security-policy']).toContain("default-src 'none'");
    expect(csp['cache-control']).toBe('no-store');
  });

  it('signs another browser out from the first; that browser must sign in again', async () => {
    const user = await createUser(server);
    const first = await newPage();
    const second = await newPage();
    await openAccount(first, server.issuer, user);
    await openAccount(second, server.issuer, user);

    await first.reload();
    const other = first.locator('[data-testid="session"]:not([data-current])');
    expect(await first.getByTestId('session').count()).toBe(2);
    await other.getByTestId('end-session').click();
    await first.getByTestId('notice').waitFor();
    expect(await first.getByTestId('session').count()).toBe(1);
    expect(await first.locator('[data-testid="session"][data-current]').count()).toBe(1);

    await second.goto(`${server.issuer}/account`);
    expect(await second.locator('input[name="password"]').count()).toBe(1);
    await signInIfAsked(second, user);
    await second.waitForURL(`${server.issuer}/account`);
  });

  it('changes the password: other sessions and refresh tokens end, this one stays, the new password works', async () => {
    const user = await createUser(server);
    const first = await newPage();
    const second = await newPage();
    const tokens = await connectApp(first, photos, user);
    await openAccount(first, server.issuer, user);
    await openAccount(second, server.issuer, user);
    await first.reload();
    expect(await first.locator('#password-heading + p, #password-heading ~ form p.muted').first().innerText()).toContain('signs you out on every other device');

    await first.locator('#current_password').fill('not my password');
    await first.locator('#new_password').fill('a brand new passphrase');
    await first.getByTestId('change-password').click();
    expect(await first.getByTestId('password-error').innerText()).toBe('That is not your current password.');

    await first.locator('#current_password').fill(user.password);
    await first.locator('#new_password').fill('password');
    await first.getByTestId('change-password').click();
    expect(await first.getByTestId('password-error').innerText()).toContain('too common');

    await first.locator('#current_password').fill(user.password);
    await first.locator('#new_password').fill('a brand new passphrase');
    await first.getByTestId('change-password').click();
    await first.getByTestId('notice').waitFor();
    expect(await first.getByTestId('session').count()).toBe(1);
    expect(await first.getByTestId('no-apps').count()).toBe(1);

    expect(await refreshWorks(photos, tokens.refresh_token!)).toBe(false);
    await second.goto(`${server.issuer}/account`);
    expect(await second.locator('input[name="password"]').count()).toBe(1);
    await signInIfAsked(second, { username: user.username, password: user.password });
    expect(await second.getByRole('alert').innerText()).toContain('Invalid username or password');
    await signInIfAsked(second, { username: user.username, password: 'a brand new passphrase' });
    await second.waitForURL(`${server.issuer}/account`);

    await first.reload();
    expect(await first.getByTestId('username').innerText()).toBe(user.username);
  });

  it('refuses a POST without the CSRF token or with another session’s', async () => {
    const user = await createUser(server);
    const page = await newPage();
    await connectApp(page, photos, user);
    await openAccount(page, server.issuer, user);
    const grantId = (await server.store.collection('Grant').findOne({ accountId: user.sub }))!._id;
    const action = `${server.issuer}/account/apps/${grantId}/remove`;

    const missing = await page.request.post(action, { form: {}, maxRedirects: 0 });
    expect(missing.status()).toBe(403);
    expect(await missing.text()).toContain('This form has expired');
    const forged = await page.request.post(action, { form: { _csrf: 'A'.repeat(43) }, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    expect(await server.store.collection('Grant').countDocuments({ _id: grantId })).toBe(1);
  });

  it("does not let user A act on user B's app or device ids: a friendly 404, nothing changes", async () => {
    const alice = await createUser(server);
    const bob = await createUser(server);
    const alicePage = await newPage();
    const bobPage = await newPage();
    await openAccount(alicePage, server.issuer, alice);
    const bobTokens = await connectApp(bobPage, photos, bob);
    await openAccount(bobPage, server.issuer, bob);
    const bobGrant = (await server.store.collection('Grant').findOne({ accountId: bob.sub, clientId: photos.clientId }))!._id;
    const bobSession = await bobPage.locator('[data-testid="session"][data-current]').getAttribute('data-session-id');

    const csrf = await alicePage.locator('input[name="_csrf"]').first().inputValue();
    for (const path of [`/account/apps/${bobGrant}/remove`, `/account/sessions/${bobSession}/end`, '/account/apps/no-such-grant/remove']) {
      const res = await alicePage.request.post(`${server.issuer}${path}`, { form: { _csrf: csrf }, maxRedirects: 0 });
      expect(res.status(), path).toBe(404);
      const html = await res.text();
      expect(html).toContain('Nothing was changed');
      expect(html).not.toContain(bob.username);
    }
    expect(await refreshWorks(photos, bobTokens.refresh_token!)).toBe(true);
    await bobPage.reload();
    expect(await bobPage.getByTestId('username').innerText()).toBe(bob.username);
  });

  it('changes name and email (a new email is unverified, a taken one refused) and shows failed sign-ins in the activity', async () => {
    const user = await createUser(server);
    const other = await createUser(server);
    const page = await newPage();
    await page.goto(`${server.issuer}/account`);
    await signInIfAsked(page, { username: user.username, password: 'not the password' });
    await page.getByRole('alert').waitFor();
    await signInIfAsked(page, user);
    await page.waitForURL(`${server.issuer}/account`);
    await expect.poll(() => page.getByTestId('activity').innerText()).toContain('Failed sign-in (wrong password)');

    await page.locator('#email').fill(other.email);
    await page.getByTestId('save-profile').click();
    expect(await page.getByTestId('profile-error').innerText()).toBe('That email address belongs to another account.');

    await page.locator('#name').fill('Renamed Person');
    await page.locator('#email').fill(`new-${user.email}`);
    await page.getByTestId('save-profile').click();
    await page.getByTestId('notice').waitFor();
    const saved = (await server.accounts.model.findById(user.sub).lean())!;
    expect(saved).toMatchObject({ name: 'Renamed Person', email: `new-${user.email}`, emailVerified: false });
    expect(await page.locator('label[for="email"]').innerText()).toContain('not verified');
    expect(await page.getByTestId('activity').innerText()).toContain('You changed your profile');
  });

  it('counts wrong passwords typed in the account center against the same sign-in limit as the login form', async () => {
    const user = await createUser(server);
    const page = await newPage();
    await openAccount(page, server.issuer, user);
    const csrf = await page.locator('input[name="_csrf"]').first().inputValue();
    const { maxFailuresPerUser } = server.settings.loginThrottle;
    const statuses = [];
    for (let i = 0; i <= maxFailuresPerUser; i += 1) {
      const res = await page.request.post(`${server.issuer}/account/confirm`, { form: { _csrf: csrf, password: `guess ${i}` }, maxRedirects: 0 });
      statuses.push(res.status());
    }
    expect(statuses).toEqual([...Array<number>(maxFailuresPerUser).fill(401), 429]);
    // The right password is refused too while locked, here and at the login form.
    const right = await page.request.post(`${server.issuer}/account/confirm`, { form: { _csrf: csrf, password: user.password }, maxRedirects: 0 });
    expect(right.status()).toBe(429);
    const login = await newPage();
    await login.goto(`${server.issuer}/account`);
    await signInIfAsked(login, user);
    expect(await login.getByRole('alert').innerText()).toContain('Too many failed sign-in attempts');
  });

  it('asks for the password again before removing access when the sign-in is old', async () => {
    const user = await createUser(server);
    const page = await newPage();
    const tokens = await connectApp(page, photos, user);
    await openAccount(page, server.issuer, user);
    // Twenty minutes pass: the stored session's sign-in moves back.
    const sessions = server.store.collection('Session');
    const doc = (await sessions.findOne({ accountId: user.sub }))!;
    const payload = JSON.parse(doc.payload) as { loginTs: number };
    payload.loginTs -= 20 * 60;
    await sessions.updateOne({ _id: doc._id }, { $set: { payload: JSON.stringify(payload) } });

    await page.reload();
    await page.getByTestId('remove-app').click();
    await page.getByTestId('confirm-submit').waitFor();
    expect(await refreshWorks(photos, tokens.refresh_token!)).toBe(true);
    await page.locator('#password').fill('wrong password');
    await page.getByTestId('confirm-submit').click();
    expect(await page.getByRole('alert').innerText()).toBe('That is not your current password.');
    await page.locator('#password').fill(user.password);
    await page.getByTestId('confirm-submit').click();
    await page.getByTestId('notice').waitFor();
    await page.getByTestId('remove-app').click();
    await page.getByTestId('no-apps').waitFor();
  });
});
