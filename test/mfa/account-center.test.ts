import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { MFA_ACR } from '../../src/mfa/acr.js';
import { ageSessions, openAccountCenter, postAccountForm } from '../support/account-center.js';
import { createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { startSmtpCapture, type SmtpCapture } from '../support/smtp.js';
import { appCode, signInThroughSteps, walkSignIn } from '../support/two-step.js';
import { UserAgent } from '../support/user-agent.js';

const NOWHERE = 'about:nowhere';
let server: TestServer;
let smtp: SmtpCapture;
let app: RegisteredClient;

beforeAll(async () => {
  smtp = await startSmtpCapture();
  server = await startServer({ env: { SMTP_URL: smtp.url } });
  app = await registerClient(server);
});
afterAll(async () => {
  await server?.close();
  await smtp?.close();
});

/** Sets up the app in the account center as the person would; returns its secret and codes. */
async function enrolInAccountCenter(agent: UserAgent, user: { username: string; password: string }) {
  const home = await openAccountCenter(server, agent, user);
  expect(home.html).toContain('data-testid="setup-totp"');
  const { res } = await agent.follow(`${server.issuer}/account/two-step/app`, NOWHERE);
  const page = await res.text();
  const secret = /data-testid="totp-secret">([^<]+)</.exec(page)![1]!;
  expect(page).toMatch(/<img src="data:image\/svg\+xml;base64,[\w+/=]+" alt="QR code/);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
  const wrong = await postAccountForm(server, agent, csrf, '/two-step/app', { code: appCode(secret, 9) });
  expect(wrong.status).toBe(400);
  expect(wrong.html).toContain('That code is not right');
  const done = await postAccountForm(server, agent, csrf, '/two-step/app', { code: appCode(secret) });
  const codes = [...done.html.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((m) => m[1]!);
  expect(codes).toHaveLength(10);
  return { secret, codes, csrf };
}

describe('two-step verification in the account center', () => {
  it('sets up an authenticator app; then an app sign-in takes password and code, and the owner is told', async () => {
    const user = await createUser(server);
    const agent = new UserAgent();
    const { secret } = await enrolInAccountCenter(agent, user);
    const home = await openAccountCenter(server, agent);
    expect(home.html).toContain('data-testid="totp-on"');
    expect(home.html).toContain('10 unused');
    expect(home.html).toContain('An authenticator app was added for two-step verification');
    const mail = await smtp.next(user.email);
    expect(mail.raw).toContain('an authenticator app was added');
    expect(mail.raw).not.toContain(secret.replace(/\s/g, ''));

    // Signed out (a new browser), the app asks for both.
    const signIn = await signInThroughSteps(app, user, { code: () => appCode(secret, 1) });
    expect(signIn.walk.pages).toEqual(['login', 'second-step', 'consent']);
    expect(signIn.tokens!.claims()).toMatchObject({ acr: MFA_ACR, amr: ['pwd', 'otp', 'mfa'] });
  });

  it('keeps a stale or password-only session from removing the app: it must sign in again with a code', async () => {
    const user = await createUser(server);
    // Browser B signed in with the password before the app was added; it stays signed in.
    const stale = new UserAgent();
    const staleHome = await openAccountCenter(server, stale, user);
    const owner = new UserAgent();
    await enrolInAccountCenter(owner, user);

    const attempt = await stale.follow(`${server.issuer}/account/two-step/app/remove`, `${server.issuer}/auth`, { form: { _csrf: staleHome.csrf } });
    expect(attempt.url).toMatch(/\/auth\?/);
    expect(new URL(attempt.url).searchParams.get('acr_values')).toBe(MFA_ACR);
    expect(new URL(attempt.url).searchParams.get('prompt')).toBe('login');
    expect((await server.events.model.countDocuments({ accountId: user.sub, type: 'mfa.totp_removed' }))).toBe(0);

    // The owner's own sign-in with the app, grown old, is not enough either.
    await ageSessions(server, user.sub, 3600);
    const home = await openAccountCenter(server, owner);
    const old = await owner.follow(`${server.issuer}/account/two-step/app/remove`, `${server.issuer}/auth`, { form: { _csrf: home.csrf } });
    expect(old.url).toMatch(/\/auth\?/);
    expect(await openAccountCenter(server, owner).then((p) => p.html)).toContain('data-testid="totp-on"');
  });

  it('makes new recovery codes that void the old ones, and removes the app', async () => {
    const user = await createUser(server);
    const agent = new UserAgent();
    const { codes: first, secret, csrf } = await enrolInAccountCenter(agent, user);
    // This session signed in with a password only: the account center sends it to sign in
    // again, password and code, and back.
    const asked = await agent.follow(`${server.issuer}/account/two-step/recovery-codes`, `${server.issuer}/auth`, { form: { _csrf: csrf } });
    const callback = `${server.issuer}/account/callback`;
    const walk = await walkSignIn(asked.url, callback, user, { code: () => appCode(secret, 1) }, agent);
    expect(walk.pages).toEqual(['login', 'second-step']);
    await agent.follow(walk.callbackUrl, NOWHERE);
    const home = await openAccountCenter(server, agent);
    const renewed = await postAccountForm(server, agent, home.csrf, '/two-step/recovery-codes', {});
    const second = [...renewed.html.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((m) => m[1]!);
    expect(second).toHaveLength(10);
    expect((await signInThroughSteps(app, user, { recoveryCode: first[0]! })).tokens).toBeUndefined();
    expect((await signInThroughSteps(app, user, { recoveryCode: second[0]! })).tokens).toBeDefined();

    const removed = await postAccountForm(server, agent, home.csrf, '/two-step/app/remove', {});
    expect(removed.url).toBe(`${server.issuer}/account?notice=totp-removed`);
    expect((await signInThroughSteps(app, user, {})).walk.pages).toEqual(['login', 'consent']);
  });
});
