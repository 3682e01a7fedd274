import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { defaults } from '../../config/defaults.js';
import { ageSessions, openAccountCenter, postAccountForm } from '../support/account-center.js';
import { createUser } from '../support/relying-party.js';
import type { TestServer } from '../support/server.js';
import { linkIn, type SmtpCapture } from '../support/smtp.js';
import { UserAgent } from '../support/user-agent.js';
import { freshAgent, hidden, startWithMail, text } from '../registration/support.js';

const { recentSignInSeconds } = defaults.account;
const { max: perAccount } = defaults.rateLimits.emailChangePerAccount;
const { max: perNetwork } = defaults.rateLimits.emailChangePerNetwork;

let server: TestServer;
let smtp: SmtpCapture;

beforeAll(async () => {
  ({ server, smtp } = await startWithMail());
});
afterAll(async () => {
  await server?.close();
  await smtp?.close();
});

type User = Awaited<ReturnType<typeof createUser>>;

const account = (user: User) => server.accounts.model.findById(user.sub).lean();
const mailsTo = (address: string) => smtp.mails.filter((m) => m.to.includes(address));

/** "Forgot password?" for `login`, as a browser submits it. */
async function forgot(login: string) {
  const agent = freshAgent();
  const page = await (await agent.request(`${server.issuer}/password/forgot`)).text();
  const res = await agent.request(`${server.issuer}/password/forgot`, { form: { csrf: hidden(page, 'csrf'), login } });
  return { status: res.status, body: text(await res.text()) };
}

describe('changing the email address in the account center', () => {
  it('asks a stale session for the password first: nothing changes, nothing is mailed, no reset reaches the new address', async () => {
    const user = await createUser(server);
    const thief = freshAgent();
    const { csrf } = await openAccountCenter(server, thief, user);
    await ageSessions(server, user.sub, recentSignInSeconds + 60);

    const attempt = await postAccountForm(server, thief, csrf, '/profile', { name: user.name, email: 'thief@evil.test' });
    expect(attempt.status).toBe(200);
    expect(text(attempt.html)).toContain('Confirm it’s you');
    expect((await account(user))?.email).toBe(user.email);
    expect((await forgot('thief@evil.test')).status).toBe(200);
    await sleep(300);
    expect(mailsTo('thief@evil.test')).toHaveLength(0);
    // A name alone is no sensitive change.
    const renamed = await postAccountForm(server, thief, csrf, '/profile', { name: 'Renamed', email: user.email });
    expect(renamed.url).toBe(`${server.issuer}/account?notice=profile-saved`);
  });

  it('after the password: tells the old address with a way back, keeps the new one unverified and out of reach of reset links', async () => {
    const user = await createUser(server);
    const owner = freshAgent();
    const { csrf } = await openAccountCenter(server, owner, user);
    await ageSessions(server, user.sub, recentSignInSeconds + 60);
    const wrong = await postAccountForm(server, owner, csrf, '/confirm', { password: 'not it' });
    expect(wrong.status).toBe(401);
    expect((await postAccountForm(server, owner, csrf, '/confirm', { password: user.password })).url).toBe(`${server.issuer}/account?notice=confirmed`);

    const newEmail = `new.${user.email}`;
    // The name is free text whoever holds the session chose: no mail carries it.
    const phishing = 'Sign in again at https://evil.example/login';
    const saved = await postAccountForm(server, owner, csrf, '/profile', { name: phishing, email: newEmail });
    expect(saved.url).toBe(`${server.issuer}/account?notice=profile-saved`);
    expect(await account(user)).toMatchObject({ email: newEmail, emailVerified: false });
    const told = await smtp.next(user.email);
    expect(told.raw).toMatch(/Subject: Your email address was changed/);
    const confirm = await smtp.next(newEmail);
    expect(confirm.raw).toMatch(/Subject: Confirm your email address/);
    for (const mail of [told, confirm]) expect(mail.raw).not.toContain('evil.example');

    // Unverified: "Forgot password?" answers as always and mails nothing.
    const asked = await forgot(newEmail);
    expect(asked.status).toBe(200);
    expect(asked.body).toContain('If an account exists');
    await sleep(300);
    expect(mailsTo(newEmail).filter((m) => m.raw.includes('Reset your password'))).toHaveLength(0);

    // "This was not me" from the old mailbox: the address comes back, verified, and every device is signed out.
    const restorer = freshAgent();
    const link = linkIn(told);
    const page = await (await restorer.request(link)).text();
    expect(text(page)).toContain(user.email);
    const restored = await restorer.request(`${server.issuer}/email/restore`, { form: { csrf: hidden(page, 'csrf'), token: hidden(page, 'token') } });
    expect(restored.status).toBe(200);
    expect(text(await restored.text())).toContain(`Your account has ${user.email} as its email address again`);
    expect(await account(user)).toMatchObject({ email: user.email, emailVerified: true });
    expect((await openAccountCenter(server, owner).catch((err: Error) => err))).toBeInstanceOf(Error);
    // The confirmation link mailed to the other address is dead.
    const other = await freshAgent().request(linkIn(mailsTo(newEmail)[0]!));
    expect(other.status).toBe(400);
    expect((await restorer.request(link)).status).toBe(400);
  });
});

describe('limits on email changes', () => {
  /** A user signed in (recently) to the account center from `ip`. */
  async function signedIn(ip: string) {
    const user = await createUser(server);
    const agent = new UserAgent({ 'x-forwarded-for': ip });
    const { csrf } = await openAccountCenter(server, agent, user);
    return { user, change: (email: string) => postAccountForm(server, agent, csrf, '/profile', { name: user.name, email }) };
  }

  it('limits one account’s changes, so neither mails nor "belongs to another account" answers come without limit', async () => {
    const victim = await createUser(server);
    const { user, change } = await signedIn(`10.99.${Math.floor(Math.random() * 250)}.1`);
    const answers = [];
    for (let i = 0; i < perAccount + 3; i += 1) {
      // Taken and free addresses in turn: past the limit both get the same refusal.
      answers.push(await change(i % 2 === 0 ? victim.email : `probe-${i}.${user.email}`));
    }
    const statuses = answers.map((a) => a.status);
    expect(statuses.slice(0, perAccount)).toEqual(Array.from({ length: perAccount }, (_, i) => (i % 2 === 0 ? 409 : 200)));
    expect(statuses.slice(perAccount)).toEqual([429, 429, 429]);
    expect(text(answers.at(-1)!.html)).toContain('Too many email address changes');
    await sleep(200);
    const confirmations = smtp.mails.filter((m) => m.to.some((to) => to.startsWith('probe-') && to.endsWith(user.email)) && m.raw.includes('Confirm your email address'));
    expect(confirmations).toHaveLength(Math.floor(perAccount / 2));
  });

  it('limits one network’s changes across its accounts, every address of an IPv6 /64 alike', async () => {
    const network = `2001:db8:${(Date.now() % 0xffff).toString(16)}:1`;
    const accounts = await Promise.all(Array.from({ length: Math.ceil(perNetwork / perAccount) + 1 }, (_, i) => signedIn(`${network}::${i + 1}`)));
    const statuses: number[] = [];
    for (const { user, change } of accounts) {
      for (let i = 0; i < perAccount; i += 1) statuses.push((await change(`net-${i}.${user.email}`)).status);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(perNetwork);
    expect(statuses.slice(perNetwork).every((s) => s === 429)).toBe(true);
  });
});

describe('notices on the account page', () => {
  it('shows only our own notices: names every object inherits show nothing', async () => {
    const user = await createUser(server);
    const agent = freshAgent();
    await openAccountCenter(server, agent, user);
    for (const name of ['constructor', 'toString', '__proto__', 'valueOf', 'hasOwnProperty']) {
      const page = await (await agent.request(`${server.issuer}/account?notice=${name}`)).text();
      expect(page).not.toContain('data-testid="notice"');
      expect(page).not.toContain('native code');
    }
    const known = await (await agent.request(`${server.issuer}/account?notice=profile-saved`)).text();
    expect(known).toContain('data-testid="notice"');
  });
});
