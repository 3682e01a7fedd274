import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { browserUnavailable, launchBrowser, type HeadlessBrowser } from '../support/browser.js';
import { createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';

/** oidc-client-ts's own browser bundle (global `oidc`), as a SPA would load it. */
const BUNDLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../node_modules/oidc-client-ts/dist/browser/oidc-client-ts.min.js');

/**
 * The SPA: one script shared by its pages. `window.spa` is the UserManager; the callback
 * page completes the sign-in and marks the document, so the test can wait for it.
 */
function spaScript(issuer: string, clientId: string, origin: string): string {
  return `
    window.spa = new oidc.UserManager({
      authority: ${JSON.stringify(issuer)},
      client_id: ${JSON.stringify(clientId)},
      redirect_uri: ${JSON.stringify(`${origin}/callback.html`)},
      post_logout_redirect_uri: ${JSON.stringify(`${origin}/signed-out.html`)},
      response_type: 'code',
      scope: 'openid profile offline_access',
      prompt: 'consent',
      revokeTokensOnSignout: true,
      automaticSilentRenew: false,
    });
    if (location.pathname === '/callback.html') {
      window.spa.signinRedirectCallback().then(
        () => { document.body.dataset.state = 'signed-in'; },
        (err) => { document.body.dataset.state = 'error'; document.body.textContent = String(err); },
      );
    }`;
}

interface SpaHost { origin: string; close(): Promise<void> }

/** Serves the SPA's pages, its script and the oidc-client-ts bundle from a loopback origin of its own. */
async function startSpaHost(issuer: string, clientId: () => string): Promise<SpaHost> {
  const bundle = await readFile(BUNDLE, 'utf8');
  let origin = '';
  const server: Server = createServer((req, res) => {
    const { pathname } = new URL(req.url ?? '/', origin);
    if (pathname === '/oidc-client-ts.js' || pathname === '/spa.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(pathname === '/spa.js' ? spaScript(issuer, clientId(), origin) : bundle);
      return;
    }
    if (['/', '/callback.html', '/signed-out.html'].includes(pathname)) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>SPA ${pathname}</title><body data-page="${pathname}">
        <script src="/oidc-client-ts.js"></script><script src="/spa.js"></script></body>`);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const unavailable = browserUnavailable();
if (unavailable) console.warn(`[browser tests skipped] ${unavailable}`);

describe.skipIf(unavailable !== undefined)('a SPA with oidc-client-ts revokes its tokens', () => {
  let server: TestServer;
  let chromium: HeadlessBrowser;
  let host: SpaHost;
  let spa: RegisteredClient;
  let user: Awaited<ReturnType<typeof createUser>>;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    [server, chromium] = await Promise.all([startServer(), launchBrowser()]);
    host = await startSpaHost(server.issuer, () => spa.clientId);
    user = await createUser(server);
    spa = await registerClient(server, {
      client_name: 'Notes SPA', token_endpoint_auth_method: 'none',
      redirect_uris: [`${host.origin}/callback.html`], post_logout_redirect_uris: [`${host.origin}/signed-out.html`],
    });
  });

  afterAll(async () => {
    await chromium?.close();
    await host?.close();
    await server?.close();
  });

  beforeEach(async () => {
    context = await chromium.newContext();
    page = await context.newPage();
  });

  afterEach(async () => {
    await context?.close();
  });

  /** Starts signinRedirect without awaiting it: the page navigates away while it runs. */
  async function startSignIn(): Promise<void> {
    await page.evaluate(() => { void (window as unknown as { spa: { signinRedirect(): Promise<void> } }).spa.signinRedirect(); });
  }

  /** signinRedirect → our login page → consent → the SPA's callback; returns the tokens it holds. */
  async function signIn(): Promise<{ access_token: string; refresh_token: string }> {
    await page.goto(`${host.origin}/`);
    await startSignIn();
    await page.locator('input[name="login"]').fill(user.username);
    await page.locator('input[name="password"]').fill(user.password);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('approve').click();
    await page.waitForURL(`${host.origin}/callback.html**`);
    await expect.poll(() => page.locator('body').getAttribute('data-state')).toBe('signed-in');
    const held = await page.evaluate(async () => {
      const current = await (window as unknown as { spa: { getUser(): Promise<{ access_token: string; refresh_token?: string } | null> } }).spa.getUser();
      return { access_token: current?.access_token ?? '', refresh_token: current?.refresh_token ?? '' };
    });
    expect(held.access_token).toBeTruthy();
    expect(held.refresh_token).toBeTruthy();
    return held as { access_token: string; refresh_token: string };
  }

  /** What the SPA (the tokens' own, public client) learns at introspection. */
  async function active(token: string): Promise<boolean> {
    const res = await fetch(`${server.issuer}/token/introspection`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, client_id: spa.clientId }),
    });
    return ((await res.json()) as { active: boolean }).active;
  }

  it('revokeTokens() succeeds from the browser and both tokens are dead afterwards', async () => {
    const held = await signIn();
    expect(await active(held.access_token)).toBe(true);
    expect(await active(held.refresh_token)).toBe(true);

    const outcome = await page.evaluate(() => (window as unknown as { spa: { revokeTokens(): Promise<void> } }).spa.revokeTokens()
      .then(() => 'revoked', (err: unknown) => `failed: ${String(err)}`));
    expect(outcome).toBe('revoked');
    expect(await active(held.access_token)).toBe(false);
    expect(await active(held.refresh_token)).toBe(false);
  });

  it('signoutRedirect() with revokeTokensOnSignout revokes, signs out at the provider and returns to the SPA', async () => {
    const held = await signIn();
    const failures: string[] = [];
    page.on('pageerror', (err) => failures.push(err.message));
    page.on('console', (message) => { if (message.type() === 'error') failures.push(message.text()); });

    await page.evaluate(() => { void (window as unknown as { spa: { signoutRedirect(): Promise<void> } }).spa.signoutRedirect(); });
    await page.getByTestId('logout-yes').click();
    await page.waitForURL(`${host.origin}/signed-out.html**`);
    expect(failures).toEqual([]);
    expect(await active(held.access_token)).toBe(false);
    expect(await active(held.refresh_token)).toBe(false);

    // Signed out at the provider too: the next sign-in asks for the password again.
    await page.goto(`${host.origin}/`);
    await startSignIn();
    await expect.poll(() => page.locator('input[name="password"]').count()).toBe(1);
  });
});
