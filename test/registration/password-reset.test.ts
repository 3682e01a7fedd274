import { setTimeout as sleep } from 'node:timers/promises';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { adminToken, api } from '../admin/support.js';
import { openAccountCenter, postAccountForm } from '../support/account-center.js';
import { createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import type { TestServer } from '../support/server.js';
import { linkIn, type SmtpCapture } from '../support/smtp.js';
import { UserAgent } from '../support/user-agent.js';
import { beginAuthorization, consentAndRedeem, followMailedLink, freshAgent, hidden, startWithMail, submit, text } from './support.js';

let server: TestServer;
let smtp: SmtpCapture;
let rp: RegisteredClient;
const SLOW_SMTP_MS = 800;

beforeAll(async () => {
  ({ server, smtp } = await startWithMail());
  rp = await registerClient(server);
});
afterAll(async () => {
  await server?.close();
  await smtp?.close();
});

/** "Forgot password?" as a browser submits it: the form's CSRF token, then the answer. */
async function forgot(agent: UserAgent, login: string, issuer = server.issuer) {
  const page = await (await agent.request(`${issuer}/password/forgot`)).text();
  const started = performance.now();
  const res = await agent.request(`${issuer}/password/forgot`, { form: { csrf: hidden(page, 'csrf'), login } });
  return { status: res.status, body: text(await res.text()), ms: performance.now() - started };
}

async function signIn(agent: UserAgent, login: { username: string; password: string }) {
  const auth = await beginAuthorization(agent, rp);
  const after = await submit(agent, `${server.issuer}/interaction/${auth.uid}/login`, { login: login.username, password: login.password }, rp.redirectUri);
  return { auth, after };
}

describe('password reset', () => {
  it('sets a new password through the link; the old password, session and refresh token all stop working; the link works once', async () => {
    const user = await createUser(server);
    const agent = freshAgent();
    const { auth, after } = await signIn(agent, user);
    const tokens = await consentAndRedeem(agent, rp, server.issuer, auth, after.html);
    expect(tokens.refresh_token).toBeTruthy();

    await forgot(freshAgent(), user.username);
    const resetter = freshAgent();
    const refused = await followMailedLink(resetter, smtp, user.email, { password: 'password123' });
    expect(refused.res.status).toBe(400);
    expect(text(refused.html)).toContain('This password is too common');
    // A refused password leaves the link usable.
    const page = await (await resetter.request(refused.link)).text();
    const newPassword = 'a brand new passphrase';
    const done = await resetter.request(`${server.issuer}/password/reset`, { form: { csrf: hidden(page, 'csrf'), token: hidden(page, 'token'), password: newPassword } });
    expect(done.status).toBe(200);
    expect(text(await done.text())).toContain('Your password was changed');

    await expect(client.refreshTokenGrant(rp.config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    const resumed = await beginAuthorization(agent, rp);
    expect(resumed.loginPage).toContain('name="password"');
    const old = await signIn(freshAgent(), user);
    expect(old.after.status).toBe(401);
    const fresh = await signIn(freshAgent(), { username: user.username, password: newPassword });
    expect(fresh.after.html).toContain('wants to access your account');

    const reused = await resetter.request(`${server.issuer}/password/reset`, { form: { csrf: hidden(page, 'csrf'), token: hidden(page, 'token'), password: 'yet another passphrase' } });
    expect(reused.status).toBe(400);
    expect(text(await reused.text())).toContain('This link is not valid');
    expect(await server.events.model.exists({ type: 'user.password_changed', accountId: user.sub })).not.toBeNull();
    expect((await smtp.next(user.email)).raw).toMatch(/Subject: Your password was changed/);
  });

  it('refuses an expired link, and lets only one of two simultaneous uses of a link through', async () => {
    const user = await createUser(server);
    await forgot(freshAgent(), user.username);
    const link = linkIn(await smtp.next(user.email));
    const agent = freshAgent();
    const page = await (await agent.request(link)).text();
    const form = (password: string) => ({ csrf: hidden(page, 'csrf'), token: hidden(page, 'token'), password });
    const raced = await Promise.all([agent.request(`${server.issuer}/password/reset`, { form: form('first racing passphrase') }),
      agent.request(`${server.issuer}/password/reset`, { form: form('second racing passphrase') })]);
    expect(raced.map((r) => r.status).sort()).toEqual([200, 400]);
    expect((await smtp.next(user.email)).raw).toMatch(/Subject: Your password was changed/);

    await forgot(freshAgent(), user.username);
    const late = linkIn(await smtp.next(user.email));
    await server.accounts.model.db.collection('one_time_tokens')
      .updateMany({ accountId: user.sub }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
    const expired = await agent.request(late);
    expect(expired.status).toBe(400);
    expect(text(await expired.text())).toContain('This link is not valid');
  });

  it('refuses a form without its CSRF token, and limits requests per network and mails per recipient', async () => {
    const agent = freshAgent();
    await agent.request(`${server.issuer}/password/forgot`);
    for (const csrf of [undefined, 'forged']) {
      const res = await agent.request(`${server.issuer}/password/forgot`, { form: { login: 'someone', ...(csrf ? { csrf } : {}) } });
      expect(res.status).toBe(403);
      expect(text(await res.text())).toContain('This page expired');
    }
    const user = await createUser(server);
    const statuses: number[] = [];
    for (let i = 0; i < 11; i += 1) statuses.push((await forgot(agent, user.username)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses[10]).toBe(429);
    await expect.poll(() => server.events.model.countDocuments({ type: 'user.password_reset_requested', accountId: user.sub })).toBe(3);
  });

  it('counts every address of one IPv6 /64 as one network', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 13; i += 1) {
      statuses.push((await forgot(new UserAgent({ 'x-forwarded-for': `2001:db8:88:1::${(i + 1).toString(16)}` }), `nobody-${i}`)).status);
    }
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(200));
    expect(statuses.slice(10)).toEqual([429, 429, 429]);
    expect((await forgot(new UserAgent({ 'x-forwarded-for': '2001:db8:88:2::1' }), 'nobody')).status).toBe(200);
  });

  it('goes back into the sign-in it started from', async () => {
    const user = await createUser(server);
    const agent = freshAgent();
    const auth = await beginAuthorization(agent, rp);
    const forgotUrl = /href="(\/password\/forgot\?interaction=[^"]+)"/.exec(auth.loginPage)![1]!;
    const page = await (await agent.request(`${server.issuer}${forgotUrl}`)).text();
    await agent.request(`${server.issuer}/password/forgot`, { form: { csrf: hidden(page, 'csrf'), interaction: hidden(page, 'interaction'), login: user.username } });
    const done = await followMailedLink(agent, smtp, user.email, { password: 'continue where I left' });
    expect(done.html).toContain(`href="/interaction/${auth.uid}"`);
  });
});

describe('what a reset link is good for', () => {
  let admin: string;
  beforeAll(async () => { admin = await adminToken(server.issuer); });

  /** A reset link mailed to the user, opened (not used yet): its page and the action to post. */
  async function resetLinkFor(user: { username: string; email: string }) {
    await forgot(freshAgent(), user.username);
    const agent = freshAgent();
    const link = linkIn(await smtp.next(user.email));
    const page = await (await agent.request(link)).text();
    return {
      link,
      use: async (password: string) => {
        const res = await agent.request(`${server.issuer}/password/reset`, { form: { csrf: hidden(page, 'csrf'), token: hidden(page, 'token'), password } });
        return { status: res.status, body: text(await res.text()) };
      },
    };
  }

  async function expectDead(reset: Awaited<ReturnType<typeof resetLinkFor>>, user: { username: string }) {
    expect((await freshAgent().request(reset.link)).status).toBe(400);
    const used = await reset.use('the thief’s chosen passphrase');
    expect(used.status).toBe(400);
    expect(used.body).toContain('This link is not valid');
    expect((await signIn(freshAgent(), { username: user.username, password: 'the thief’s chosen passphrase' })).after.status).toBe(401);
  }

  it('ends when an administrator changes the password and revokes, even though its record is kept', async () => {
    const user = await createUser(server);
    const reset = await resetLinkFor(user);
    expect((await api(server.issuer, admin, 'PATCH', `/users/${user.sub}`, { password: 'operator chosen passphrase' })).status).toBe(200);
    expect((await api(server.issuer, admin, 'POST', `/users/${user.sub}/revoke`)).status).toBe(200);
    // Dated against the cut-off: refused although nothing deleted it.
    expect(await server.accounts.model.db.collection('one_time_tokens').countDocuments({ accountId: user.sub, purpose: 'reset_password' })).toBe(1);
    await expectDead(reset, user);
  });

  it('ends when the owner changes the password in the account center', async () => {
    const user = await createUser(server);
    const reset = await resetLinkFor(user);
    const owner = freshAgent();
    const { csrf } = await openAccountCenter(server, owner, user);
    const changed = await postAccountForm(server, owner, csrf, '/password', { current_password: user.password, new_password: 'owner chosen passphrase' });
    expect(changed.url).toBe(`${server.issuer}/account?notice=password-changed`);
    await expectDead(reset, user);
  });

  it('ends when an administrator moves the account away from the mailbox it was sent to', async () => {
    const user = await createUser(server);
    const reset = await resetLinkFor(user);
    expect((await api(server.issuer, admin, 'PATCH', `/users/${user.sub}`, { email: `moved.${user.email}` })).status).toBe(200);
    await expectDead(reset, user);
    // The operator's move is not announced to the mailbox it leaves.
    await sleep(200);
    expect(smtp.mails.filter((m) => m.to.includes(user.email) && m.raw.includes('Your email address was changed'))).toHaveLength(0);
  });

  it('goes only to a verified address: an account whose only address is unverified gets no mail, with the same answer', async () => {
    const unverified = await server.accounts.create({ username: `unverified-${Date.now()}`, password: 'some long passphrase', email: `unverified-${Date.now()}@example.test` });
    const verified = await createUser(server);
    const asked = await forgot(freshAgent(), unverified.username);
    const control = await forgot(freshAgent(), verified.username);
    expect(asked).toMatchObject({ status: 200, body: control.body });
    // The verified one's mail arrives; by then the other request was long done.
    await smtp.next(verified.email);
    await sleep(100);
    expect(smtp.mails.some((m) => m.to.includes(unverified.email!))).toBe(false);
    expect(await server.events.model.countDocuments({ type: 'user.password_reset_requested', accountId: unverified._id })).toBe(0);
  });

  it('finds the account by its username in any case and spacing, as sign-in does', async () => {
    const user = await createUser(server);
    await forgot(freshAgent(), `  ${user.username.toUpperCase()} `);
    expect(linkIn(await smtp.next(user.email))).toMatch(/\/password\/reset\?token=/);
  });

  it('lets a username decide over another account’s email address that reads the same', async () => {
    const other = await createUser(server);
    // Usernames may look like email addresses: this one is the other account's address.
    const named = await server.accounts.create({ username: other.email, password: 'some long passphrase', email: `named.${other.email}`, emailVerified: true });
    await forgot(freshAgent(), other.email);
    await smtp.next(named.email!);
    await sleep(100);
    expect(smtp.mails.some((m) => m.to.includes(other.email))).toBe(false);
  });

  it('lifts the sign-in lockout of the account, and the lockout says when to try again', async () => {
    const user = await createUser(server);
    const agent = freshAgent();
    const attempts = [];
    for (let i = 0; i < 6; i += 1) attempts.push((await signIn(agent, { username: user.username, password: `wrong ${i}` })).after);
    expect(attempts.slice(0, 5).map((a) => a.status)).toEqual([401, 401, 401, 401, 401]);
    expect(attempts[5]!.status).toBe(429);
    expect(text(attempts[5]!.html)).toContain('Too many failed sign-in attempts. Try again in 1 minute.');
    const reset = await resetLinkFor(user);
    expect((await reset.use('recovered by mail passphrase')).status).toBe(200);
    const after = await signIn(agent, { username: user.username, password: 'recovered by mail passphrase' });
    expect(after.after.html).toContain('wants to access your account');
  });
});

describe('password reset requests behind a slow mail relay', () => {
  let slow: Awaited<ReturnType<typeof startWithMail>>;
  beforeAll(async () => { slow = await startWithMail({}, SLOW_SMTP_MS); });
  afterAll(async () => {
    await slow?.server.close();
    await slow?.smtp.close();
  });

  it('answers the same for an existing and an unknown account, at the same speed, and mails only the existing one', async () => {
    const user = await createUser(slow.server);
    const ask = (login: string) => forgot(freshAgent(), login, slow.server.issuer);
    const first = await ask(user.email.toUpperCase());
    const ghost = await ask('nobody-here@example.test');
    expect(first.status).toBe(200);
    expect(ghost.status).toBe(200);
    expect(ghost.body).toBe(first.body);
    expect(first.body).toContain('If an account exists for that username or email address');
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      known.push((await ask(user.username)).ms);
      unknown.push((await ask(`ghost-${i}`)).ms);
    }
    // The relay takes SLOW_SMTP_MS per mail; an answer that waited for it would show.
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[1]!;
    expect(Math.abs(median(known) - median(unknown))).toBeLessThan(SLOW_SMTP_MS / 2);
    expect(linkIn(await slow.smtp.next(user.email))).toMatch(/\/password\/reset\?token=[\w-]{43}$/);
    await expect.poll(() => slow.smtp.mails.filter((m) => m.to.includes(user.email)).length, { timeout: 10_000 }).toBe(3);
    expect(slow.smtp.mails.some((m) => m.to.includes('nobody-here@example.test'))).toBe(false);
  });
});
