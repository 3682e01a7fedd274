import * as client from 'openid-client';

import type { RegisteredClient } from '../support/relying-party.js';
import { UserAgent } from '../support/user-agent.js';

export interface Page {
  status: number;
  html: string;
  url: string;
}

export interface FederatedFlow {
  agent: UserAgent;
  uid: string;
  /** The page the browser ended on, when it did not reach the app. */
  page?: Page;
  /** The URL of our connector callback the upstream sent the browser to. */
  upstreamAnswer?: string;
  tokens?: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;
}

/**
 * An app's authorization request, signed in with "Continue with <name>": our browser and
 * the upstream's are separate agents (the upstream sets cookies of the same names on
 * another origin), as a browser keeps cookies per site.
 */
export class FederatedBrowser {
  readonly agent = new UserAgent();
  readonly issuer: string;
  readonly rp: RegisteredClient;
  #verifier = client.randomPKCECodeVerifier();
  #state = client.randomState();
  #nonce = client.randomNonce();
  uid = '';

  constructor(issuer: string, rp: RegisteredClient) {
    this.issuer = issuer;
    this.rp = rp;
  }

  /** Opens the app's sign-in and returns the login page. */
  async open(): Promise<Page> {
    const url = client.buildAuthorizationUrl(this.rp.config, {
      redirect_uri: this.rp.redirectUri, scope: 'openid profile email', state: this.#state, nonce: this.#nonce,
      code_challenge: await client.calculatePKCECodeChallenge(this.#verifier), code_challenge_method: 'S256',
    });
    const step = await this.agent.follow(url, this.rp.redirectUri);
    const html = await step.res.text();
    // No interaction when the browser is still signed in: the app gets its answer at once.
    this.uid = /\/interaction\/([\w-]+)\//.exec(html)?.[1] ?? '';
    return { status: step.res.status, html, url: step.url };
  }

  /** Clicks "Continue with <name>"; returns the upstream authorization request it leads to. */
  async start(name: string): Promise<URL> {
    const login = await this.agent.request(`${this.issuer}/interaction/${this.uid}`);
    const html = await login.text();
    const href = new RegExp(`href="([^"]+)"[^>]*>Continue with ${name}<`).exec(html)?.[1];
    if (!href) throw new Error(`no "Continue with ${name}" on the login page`);
    const start = await this.agent.request(new URL(href.replaceAll('&amp;', '&'), this.issuer));
    if (start.status !== 303) throw new Error(`starting ${name} answered ${start.status}: ${(await start.text()).slice(0, 300)}`);
    return new URL(start.headers.get('location')!);
  }

  /** Clicks "Continue with <name>" and lets the upstream answer; returns where our server is sent back to. */
  async toUpstream(name: string, upstream = new UserAgent()): Promise<string> {
    const step = await upstream.follow(await this.start(name), this.issuer);
    if (!step.url.startsWith(this.issuer)) throw new Error(`upstream did not send the browser back: ${step.url} ${step.res.status}`);
    return step.url;
  }

  /** Follows our server from the upstream's answer: consent if asked, then the app's callback and token exchange. */
  async back(answer: string): Promise<{ page?: Page; tokens?: FederatedFlow['tokens'] }> {
    return this.#finish(await this.agent.follow(answer, this.rp.redirectUri));
  }

  async submit(path: string, form: Record<string, string>) {
    const step = await this.agent.follow(`${this.issuer}${path}`, this.rp.redirectUri, { form });
    return this.#finish(step);
  }

  async #finish(first: { url: string; res: Response }): Promise<{ page?: Page; tokens?: FederatedFlow['tokens'] }> {
    let step = first;
    if (!step.url.startsWith(this.rp.redirectUri)) {
      const html = await step.res.text();
      // Consent comes as a new interaction of its own.
      const consent = /action="(\/interaction\/[\w-]+\/confirm)"/.exec(html)?.[1];
      if (!consent) return { page: { status: step.res.status, html, url: step.url } };
      step = await this.agent.follow(`${this.issuer}${consent}`, this.rp.redirectUri, { form: {} });
      if (!step.url.startsWith(this.rp.redirectUri)) return { page: { status: step.res.status, html: await step.res.text(), url: step.url } };
    }
    const tokens = await client.authorizationCodeGrant(this.rp.config, new URL(step.url), {
      pkceCodeVerifier: this.#verifier, expectedState: this.#state, expectedNonce: this.#nonce, idTokenExpected: true,
    });
    return { tokens };
  }
}
