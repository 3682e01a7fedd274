import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { defaults } from '../../config/defaults.js';
import { loadSettings, SettingsError } from '../../src/config/settings.js';
import { adminToken } from '../admin/support.js';
import { createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { UserAgent } from '../support/user-agent.js';
import type { TestServer } from '../support/server.js';
import { linkIn, type SmtpCapture } from '../support/smtp.js';
import { beginAuthorization, consentAndRedeem, followMailedLink, freshAgent, startWithMail, submit, text } from './support.js';

let server: TestServer;
let smtp: SmtpCapture;
let strict: RegisteredClient;

beforeAll(async () => {
  ({ server, smtp } = await startWithMail());
  strict = await registerClient(server, { require_verified_email: true } as Record<string, unknown>);
});
afterAll(async () => {
  await server?.close();
  await smtp?.close();
});

describe('apps that require a verified email', () => {
  it('ask an unverified user to verify before consent, refuse a consent posted around it, resend (limited), then continue', async () => {
    const user = await createUser(server);
    await server.accounts.model.updateOne({ _id: user.sub }, { $set: { emailVerified: false } });
    const agent = freshAgent();
    const auth = await beginAuthorization(agent, strict);
    const gate = await submit(agent, `${server.issuer}/interaction/${auth.uid}/login`, { login: user.username, password: user.password }, strict.redirectUri);
    expect(text(gate.html)).toContain('needs a confirmed email address');
    expect(gate.html).not.toContain('data-testid="approve"');
    const uid = /\/interaction\/([\w-]+)\/verify-email\/resend/.exec(gate.html)![1]!;

    const around = await agent.request(`${server.issuer}/interaction/${uid}/confirm`, { form: {} });
    expect(around.status).toBe(403);

    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await agent.request(`${server.issuer}/interaction/${uid}/verify-email/resend`, { form: {} })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);

    const confirmed = await followMailedLink(agent, smtp, user.email);
    expect(confirmed.html).toContain(`href="/interaction/${uid}"`);
    const consent = await (await agent.request(`${server.issuer}/interaction/${uid}`)).text();
    const tokens = await consentAndRedeem(agent, strict, server.issuer, auth, consent);
    expect(tokens.claims()).toMatchObject({ sub: user.sub, email_verified: true });
  });

  it('limits "Send the link again" per network across accounts, so many accounts do not make a mailer', async () => {
    const { verifyResendPerAccount: perAccount, verifyResendPerNetwork: perNetwork } = defaults.rateLimits;
    const ip = `10.250.${Math.floor(Math.random() * 250)}.7`;
    const statuses: number[] = [];
    for (let n = 0; n <= perNetwork.max / perAccount.max; n += 1) {
      const user = await createUser(server);
      await server.accounts.model.updateOne({ _id: user.sub }, { $set: { emailVerified: false } });
      const agent = new UserAgent({ 'x-forwarded-for': ip });
      const auth = await beginAuthorization(agent, strict);
      const gate = await submit(agent, `${server.issuer}/interaction/${auth.uid}/login`, { login: user.username, password: user.password }, strict.redirectUri);
      const uid = /\/interaction\/([\w-]+)\/verify-email\/resend/.exec(gate.html)![1]!;
      for (let i = 0; i < perAccount.max; i += 1) statuses.push((await agent.request(`${server.issuer}/interaction/${uid}/verify-email/resend`, { form: {} })).status);
    }
    expect(statuses.slice(0, perNetwork.max)).toEqual(Array(perNetwork.max).fill(200));
    expect(statuses.length).toBeGreaterThan(perNetwork.max);
    expect(statuses.slice(perNetwork.max).every((status) => status === 429)).toBe(true);
  });

  it('an admin email change marks the address unverified, mails the new one, and keeps emails unique in any case', async () => {
    const token = await adminToken(server.issuer);
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const [a, b] = [await createUser(server), await createUser(server)];
    const clash = await fetch(`${server.issuer}/admin/users`, {
      method: 'POST', headers: auth, body: JSON.stringify({ username: `x${a.username}`, password: 'a fine passphrase', email: a.email.toUpperCase() }),
    });
    expect(clash.status).toBe(409);
    expect(await clash.json()).toMatchObject({ error: 'conflict', error_description: 'email is already used by another user' });
    const taken = await fetch(`${server.issuer}/admin/users/${b.sub}`, { method: 'PATCH', headers: auth, body: JSON.stringify({ email: a.email }) });
    expect(taken.status).toBe(409);

    const moved = await fetch(`${server.issuer}/admin/users/${b.sub}`, { method: 'PATCH', headers: auth, body: JSON.stringify({ email: `New.${b.email}` }) });
    expect(moved.status).toBe(200);
    expect(await moved.json()).toMatchObject({ email: `new.${b.email}`, email_verified: false });
    const verified = await followMailedLink(freshAgent(), smtp, `new.${b.email}`);
    expect(verified.res.status).toBe(200);
    expect((await server.accounts.model.findById(b.sub).lean())?.emailVerified).toBe(true);
  });

  it('refuses a link for an address the account no longer has', async () => {
    const user = await createUser(server);
    const token = await adminToken(server.issuer);
    const patch = (email: string) => fetch(`${server.issuer}/admin/users/${user.sub}`, {
      method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ email }),
    });
    await patch(`first.${user.email}`);
    await patch(`second.${user.email}`);
    // The page the link opens already says so; nothing to confirm.
    const stale = await freshAgent().request(linkIn(await smtp.next(`first.${user.email}`)));
    expect(stale.status).toBe(400);
    expect(text(await stale.text())).toContain('This link is not valid');
    expect((await server.accounts.model.findById(user.sub).lean())?.emailVerified).toBe(false);
  });
});

describe('settings for sign-up and reset', () => {
  const production = {
    NODE_ENV: 'production', MONGODB_URI: 'mongodb://db/x', KEY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64url'), COOKIE_KEYS: 'k'.repeat(40),
    ADMIN_CLIENT_ID: 'admin', ADMIN_CLIENT_SECRET: 's'.repeat(40), ISSUER: 'https://id.example',
  };
  it('open registration and reset in development; closed registration and no reset in production without SMTP', () => {
    expect(loadSettings({})).toMatchObject({ registration: 'open', passwordReset: true });
    expect(loadSettings(production)).toMatchObject({ registration: 'closed', passwordReset: false });
    expect(loadSettings({ ...production, SMTP_URL: 'smtp://mail' })).toMatchObject({ registration: 'closed', passwordReset: true });
  });
  it('production refuses open registration or reset without SMTP_URL', () => {
    expect(() => loadSettings({ ...production, REGISTRATION: 'open' })).toThrow(new SettingsError('REGISTRATION=open requires SMTP_URL in production'));
    expect(() => loadSettings({ ...production, PASSWORD_RESET: 'on' })).toThrow(new SettingsError('PASSWORD_RESET=on requires SMTP_URL in production'));
    expect(() => loadSettings({ REGISTRATION: 'maybe' })).toThrow(/invalid setting REGISTRATION/);
  });
});
