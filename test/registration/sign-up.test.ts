import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { registerClient, type RegisteredClient } from '../support/relying-party.js';
import type { TestServer } from '../support/server.js';
import type { SmtpCapture } from '../support/smtp.js';
import { UserAgent } from '../support/user-agent.js';
import { beginAuthorization, consentAndRedeem, followMailedLink, freshAgent, startWithMail, submit, text } from './support.js';

let server: TestServer;
let smtp: SmtpCapture;
let rp: RegisteredClient;

beforeAll(async () => {
  ({ server, smtp } = await startWithMail());
  rp = await registerClient(server);
});
afterAll(async () => {
  await server?.close();
  await smtp?.close();
});

function newPerson() {
  const username = `new-${randomBytes(4).toString('hex')}`;
  return { username, email: `${username}@example.test`, password: `sign up ${randomBytes(6).toString('hex')}`, name: 'New Person' };
}

describe('self sign-up inside an authorization request', () => {
  it('creates the account, signs it in, continues to consent and the app, and mails a link that verifies the email', async () => {
    const agent = freshAgent();
    const auth = await beginAuthorization(agent, rp);
    expect(auth.loginPage).toContain(`/interaction/${auth.uid}/signup`);
    expect(auth.loginPage).toContain('Forgot password?');
    const form = await agent.request(`${server.issuer}/interaction/${auth.uid}/signup`);
    expect(form.status).toBe(200);
    expect(form.headers.get('cache-control')).toBe('no-store');
    expect(form.headers.get('content-security-policy')).toContain("default-src 'none'");

    const person = newPerson();
    const signedUp = await submit(agent, `${server.issuer}/interaction/${auth.uid}/signup`, { ...person, email: person.email.toUpperCase() }, rp.redirectUri);
    expect(signedUp.html).toContain('wants to access your account');
    const tokens = await consentAndRedeem(agent, rp, server.issuer, auth, signedUp.html);
    expect(tokens.claims()).toMatchObject({ preferred_username: person.username, email: person.email, email_verified: false, name: person.name });

    const verified = await followMailedLink(agent, smtp, person.email);
    expect(verified.res.status).toBe(200);
    expect(text(verified.html)).toContain(`${person.email} is confirmed`);
    const refreshed = await client.refreshTokenGrant(rp.config, tokens.refresh_token!);
    expect(refreshed.claims()).toMatchObject({ email_verified: true });

    // The link worked once.
    const again = await agent.request(verified.link);
    expect(again.status).toBe(400);
    expect(text(await again.text())).toContain('This link is not valid');
    const event = await server.events.model.findOne({ type: 'user.signed_up', accountId: tokens.claims()!.sub }).lean();
    expect(event?.ip).toBe(agent.headers['x-forwarded-for']);
  });

  it('names the password rule broken, keeps what was typed but never the password, and creates nothing', async () => {
    const agent = freshAgent();
    const auth = await beginAuthorization(agent, rp);
    const person = newPerson();
    const cases: Array<[string, string]> = [
      ['short', 'Use at least 8 characters.'],
      [person.username, 'must not be your username'],
      [person.email, 'must not be your email address'],
      ['password123', 'This password is too common'],
      ['x'.repeat(129), 'Use at most 128 characters.'],
    ];
    for (const [password, message] of cases) {
      const res = await agent.request(`${server.issuer}/interaction/${auth.uid}/signup`, { form: { ...person, password } });
      const html = await res.text();
      expect(res.status, password).toBe(400);
      expect(text(html)).toContain(message);
      expect(html).toContain(`value="${person.username}"`);
      expect(html).not.toMatch(/name="password"[^>]*value=/);
    }
    expect(await server.accounts.model.exists({ username: person.username })).toBeNull();
  });

  it('refuses a taken username and a taken email in any letter case, saying which field to change', async () => {
    const agent = freshAgent();
    const taken = newPerson();
    const first = await beginAuthorization(agent, rp);
    await submit(agent, `${server.issuer}/interaction/${first.uid}/signup`, taken, rp.redirectUri);

    const other = freshAgent();
    const auth = await beginAuthorization(other, rp);
    const url = `${server.issuer}/interaction/${auth.uid}/signup`;
    const sameName = await other.request(url, { form: { ...newPerson(), username: taken.username } });
    expect(sameName.status).toBe(409);
    expect(text(await sameName.text())).toContain('This username is taken');
    const sameEmail = await other.request(url, { form: { ...newPerson(), email: taken.email.replace(/^n/, 'N') } });
    expect(sameEmail.status).toBe(409);
    const html = text(await sameEmail.text());
    expect(html).toContain('This email address is already registered');
    expect(html).not.toContain(taken.username);
  });

  it('lets exactly one of two simultaneous sign-ups for one username through', async () => {
    const [a, b] = [freshAgent(), freshAgent()];
    const [authA, authB] = await Promise.all([beginAuthorization(a, rp), beginAuthorization(b, rp)]);
    const username = newPerson().username;
    const results = await Promise.all([
      a.request(`${server.issuer}/interaction/${authA.uid}/signup`, { form: { ...newPerson(), username } }),
      b.request(`${server.issuer}/interaction/${authB.uid}/signup`, { form: { ...newPerson(), username } }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([303, 409]);
    expect(await server.accounts.model.countDocuments({ username })).toBe(1);
  });

  it('answers malformed forms with the form and a message, never a 500', async () => {
    const agent = freshAgent();
    const auth = await beginAuthorization(agent, rp);
    const url = `${server.issuer}/interaction/${auth.uid}/signup`;
    const person = newPerson();
    for (const [form, message] of [
      [{ ...person, email: 'not-an-email' }, 'Enter a valid email address.'],
      [{ ...person, username: 'has space' }, 'Choose a username'],
      [{ email: person.email, password: person.password }, 'Choose a username'],
    ] as const) {
      const res = await agent.request(url, { form });
      expect(res.status).toBe(400);
      expect(text(await res.text())).toContain(message);
    }
    const arrays = await fetch(url, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: [...agent.cookies].map(([k, v]) => `${k}=${v}`).join('; '), ...agent.headers },
      body: `username[$ne]=x&username=y&email=${encodeURIComponent(person.email)}&password=${encodeURIComponent(person.password)}`,
    });
    expect(arrays.status).toBe(400);
    const foreign = await freshAgent().request(url, { form: person });
    expect(foreign.status).toBeGreaterThanOrEqual(400);
    expect(foreign.status).toBeLessThan(500);
  });

  it('limits sign-ups per network, whatever the outcome', async () => {
    const agent = freshAgent();
    const auth = await beginAuthorization(agent, rp);
    const statuses: number[] = [];
    for (let i = 0; i < 11; i += 1) {
      const res = await agent.request(`${server.issuer}/interaction/${auth.uid}/signup`, { form: { ...newPerson(), password: 'short' } });
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 10).every((s) => s === 400)).toBe(true);
    expect(statuses[10]).toBe(429);
  });

  it('counts every address of one IPv6 /64 as one network: a fresh address per attempt does not get round the limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 13; i += 1) {
      // One host's /64, a new address each time (and the same network written differently once).
      const agent = new UserAgent({ 'x-forwarded-for': i === 12 ? '2001:DB8:77:1:0:0:0:ffff' : `2001:db8:77:1::${(i + 1).toString(16)}` });
      const auth = await beginAuthorization(agent, rp);
      statuses.push((await agent.request(`${server.issuer}/interaction/${auth.uid}/signup`, { form: { ...newPerson(), password: 'short' } })).status);
    }
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(400));
    expect(statuses.slice(10)).toEqual([429, 429, 429]);
    // The neighbouring /64 is another network.
    const neighbour = new UserAgent({ 'x-forwarded-for': '2001:db8:77:2::1' });
    const auth = await beginAuthorization(neighbour, rp);
    expect((await neighbour.request(`${server.issuer}/interaction/${auth.uid}/signup`, { form: { ...newPerson(), password: 'short' } })).status).toBe(400);
  });

  it('a bad or foreign token gets its message, not a 500', async () => {
    const agent = freshAgent();
    for (const query of ['', '?token=nope', `?token=${'A'.repeat(43)}`, '?token=a&token=b', '?token[$ne]=x']) {
      const res = await agent.request(`${server.issuer}/verify-email${query}`);
      expect(res.status, query).toBe(400);
      expect(text(await res.text())).toContain('This link is not valid');
    }
    const page = await (await agent.request(`${server.issuer}/password/forgot`)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    const forged = await agent.request(`${server.issuer}/verify-email`, { form: { csrf, token: 'A'.repeat(43) } });
    expect(forged.status).toBe(400);
  });
});

describe('closed registration', () => {
  let closed: Awaited<ReturnType<typeof startWithMail>>;
  let closedRp: RegisteredClient;
  beforeAll(async () => {
    closed = await startWithMail({ REGISTRATION: 'closed' });
    closedRp = await registerClient(closed.server);
  });
  afterAll(async () => {
    await closed?.server.close();
    await closed?.smtp.close();
  });

  it('offers no sign-up link and refuses the page and the form with a message', async () => {
    const agent = freshAgent();
    const auth = await beginAuthorization(agent, closedRp);
    expect(auth.loginPage).not.toContain('/signup');
    const url = `${closed.server.issuer}/interaction/${auth.uid}/signup`;
    const page = await agent.request(url);
    expect(page.status).toBe(403);
    expect(text(await page.text())).toContain('New accounts cannot be created here');
    const person = newPerson();
    const post = await agent.request(url, { form: person });
    expect(post.status).toBe(403);
    expect(await closed.server.accounts.model.exists({ username: person.username })).toBeNull();
  });
});
