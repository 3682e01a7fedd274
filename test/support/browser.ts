import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

/** CI installs Chromium here; locally it is installed too. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Why the browser suite cannot run here, or undefined when it can. */
export function browserUnavailable(): string | undefined {
  return existsSync(CHROMIUM_PATH) ? undefined : `${CHROMIUM_PATH} is missing: install Chromium to run the browser tests`;
}

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];

export interface HeadlessBrowser {
  browser: Browser;
  /** A fresh context per test: no cookies or storage carried over. */
  newContext(): Promise<BrowserContext>;
  close(): Promise<void>;
}

/** Real headless Chromium (playwright-core does not bundle a browser). */
export async function launchBrowser(): Promise<HeadlessBrowser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
  return {
    browser,
    newContext: () => browser.newContext({ viewport: { width: 800, height: 700 } }),
    close: () => browser.close(),
  };
}

export interface CallbackRecorder {
  /** The redirect_uri to register: http://127.0.0.1:<port>/callback */
  url: string;
  /** Every callback URL the browser arrived at, in order. */
  readonly received: URL[];
  close(): Promise<void>;
}

/** A tiny relying-party endpoint on loopback that records what the browser was redirected with. */
export async function startCallbackRecorder(): Promise<CallbackRecorder> {
  const received: URL[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    // The browser also asks for /favicon.ico; only the callback itself is a response to the client.
    if (url.pathname === '/callback') received.push(url);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Client callback</title><h1 data-testid="callback">Back at the client</h1>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/callback`,
    received,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
