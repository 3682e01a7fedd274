import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { browserUnavailable, launchBrowser, type HeadlessBrowser } from '../support/browser.js';
import { createUser, registerClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';

const unavailable = browserUnavailable();
if (unavailable) console.warn(`[browser tests skipped] ${unavailable}`);

const snippet = (name: string) => readFile(new URL(`../../examples/snippets/${name}`, import.meta.url), 'utf8');
// The package's browser build (a UMD bundle defining the global `oidc`); not in its exports map.
const bundle = path.join(path.dirname(createRequire(import.meta.url).resolve('oidc-client-ts/package.json')), 'dist/browser/oidc-client-ts.min.js');

/** The SPA snippet of docs/integrate.md (examples/snippets/spa.html + spa.js), served as-is but for its config. */
async function serveSpa(config: { authority: string; client_id?: string }): Promise<{ server: Server; origin: string; setClient(id: string): void }> {
  let clientId = '';
  const server = createServer((req, res) => {
    void (async () => {
      const route = new URL(req.url ?? '/', 'http://spa').pathname;
      if (route === '/') {
        const html = (await snippet('spa.html')).replace(/(id="oidc-config">)[^<]*/, `$1${JSON.stringify({ ...config, client_id: clientId })}`);
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
      } else if (route === '/spa.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' }).end(await snippet('spa.js'));
      } else if (route === '/oidc-client-ts.min.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' }).end(await readFile(bundle));
      } else {
        res.writeHead(404).end();
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, origin, setClient: (id) => { clientId = id; } };
}

describe.skipIf(unavailable !== undefined)('a SPA with oidc-client-ts (public client, PKCE)', () => {
  let provider: TestServer;
  let chromium: HeadlessBrowser;
  let spa: Awaited<ReturnType<typeof serveSpa>>;

  beforeAll(async () => {
    [provider, chromium] = await Promise.all([startServer(), launchBrowser()]);
    spa = await serveSpa({ authority: provider.issuer });
  });
  afterAll(async () => {
    await chromium?.close();
    spa?.server.close();
    await provider?.close();
  });

  it('signs in without a secret, redeeming the code with its PKCE verifier across origins', async () => {
    const user = await createUser(provider);
    const rp = await registerClient(provider, { token_endpoint_auth_method: 'none', redirect_uris: [`${spa.origin}/`] });
    spa.setClient(rp.clientId);
    const context = await chromium.newContext();
    const page = await context.newPage();
    const tokenRequests: string[] = [];
    page.on('request', (req) => { if (req.url() === `${provider.issuer}/token`) tokenRequests.push(req.postData() ?? ''); });

    await page.goto(spa.origin);
    await page.locator('#login').click();
    await page.locator('input[name="login"]').fill(user.username);
    await page.locator('input[name="password"]').fill(user.password);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('approve').click();
    await expect.poll(() => page.locator('#profile').innerText()).toContain(user.sub);

    expect(JSON.parse(await page.locator('#profile').innerText())).toMatchObject({ sub: user.sub, name: user.name, email: user.email });
    expect(tokenRequests).toHaveLength(1);
    const form = new URLSearchParams(tokenRequests[0]);
    expect(form.get('code_verifier')).toBeTruthy();
    expect(form.get('client_id')).toBe(rp.clientId);
    expect(form.has('client_secret')).toBe(false);
    await context.close();
  });
});
