import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';

import type { RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { linkIn, startSmtpCapture, type SmtpCapture } from '../support/smtp.js';
import { UserAgent } from '../support/user-agent.js';

/** A server whose mail goes to a capturing SMTP server; X-Forwarded-For stands in for client networks. */
export async function startWithMail(env: Record<string, string> = {}, acceptDelayMs = 0): Promise<{ server: TestServer; smtp: SmtpCapture }> {
  const smtp = await startSmtpCapture({ acceptDelayMs });
  const server = await startServer({ env: { SMTP_URL: smtp.url, TRUST_PROXY: 'true', REGISTRATION: 'open', ...env } });
  return { server, smtp };
}

/** A browser of its own, from a network of its own (so per-IP limits of other tests do not interfere). */
export function freshAgent(): UserAgent {
  return new UserAgent({ 'x-forwarded-for': `10.${randomOctet()}.${randomOctet()}.${randomOctet()}` });
}

function randomOctet(): number {
  return randomBytes(1)[0]! % 250 + 1;
}

export interface Authorization {
  uid: string;
  loginPage: string;
  verifier: string;
  state: string;
  nonce: string;
}

/** Starts an authorization request and stops at the login page. */
export async function beginAuthorization(agent: UserAgent, rp: RegisteredClient, scope = 'openid email profile offline_access'): Promise<Authorization> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(rp.config, {
    redirect_uri: rp.redirectUri, scope, state, nonce, prompt: 'consent',
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  const { res } = await agent.follow(url, rp.redirectUri);
  const loginPage = await res.text();
  const uid = /\/interaction\/([\w-]+)\//.exec(loginPage)?.[1];
  if (!uid) throw new Error(`no interaction page: ${loginPage.slice(0, 200)}`);
  return { uid, loginPage, verifier, state, nonce };
}

/** Follows redirects after a form post until the client's callback or a page. */
export async function submit(agent: UserAgent, url: string, form: Record<string, string>, stopAt: string) {
  const { url: landed, res } = await agent.follow(url, stopAt, { form });
  return { landed, status: res.status, html: landed.startsWith(stopAt) ? '' : await res.text() };
}

/** Approves consent and redeems the code. */
export async function consentAndRedeem(agent: UserAgent, rp: RegisteredClient, issuer: string, auth: Authorization, consentHtml: string) {
  const uid = /\/interaction\/([\w-]+)\/confirm/.exec(consentHtml)?.[1];
  if (!uid) throw new Error(`no consent page: ${consentHtml.slice(0, 300)}`);
  const { landed } = await submit(agent, `${issuer}/interaction/${uid}/confirm`, {}, rp.redirectUri);
  return client.authorizationCodeGrant(rp.config, new URL(landed), {
    pkceCodeVerifier: auth.verifier, expectedState: auth.state, expectedNonce: auth.nonce, idTokenExpected: true,
  });
}

/** A hidden field's value in a page (the CSRF token, the reset token). */
export function hidden(html: string, name: string): string {
  const value = new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];
  if (value === undefined) throw new Error(`no hidden ${name} in page`);
  return value;
}

/** Opens a mailed link and submits the form it shows, as a person would. */
export async function followMailedLink(agent: UserAgent, smtp: SmtpCapture, to: string, form: Record<string, string> = {}) {
  const link = linkIn(await smtp.next(to));
  const page = await (await agent.request(link)).text();
  const action = new URL(link);
  action.search = '';
  const res = await agent.request(action, { form: { csrf: hidden(page, 'csrf'), token: hidden(page, 'token'), ...form } });
  return { link, res, html: await res.text() };
}

export function text(html: string): string {
  return html.replace(/<[^>]+>/g, ' ').replace(/&#34;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&').replace(/\s+/g, ' ');
}
