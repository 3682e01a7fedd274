import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { adminToken, api } from '../admin/support.js';
import { UserAgent } from '../support/user-agent.js';

import { createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { appCode, signInThroughSteps } from '../support/two-step.js';
import { MFA_ACR, PASSWORD_ACR } from '../../src/mfa/acr.js';

let server: TestServer;
let app: RegisteredClient;
let strictApp: RegisteredClient;

beforeAll(async () => {
  server = await startServer();
  app = await registerClient(server);
  strictApp = await registerClient(server, { require_mfa: true } as Record<string, unknown>);
  // An operator sets the same through the admin API.
  const admin = await adminToken(server.issuer);
  const created = await api(server.issuer, admin, 'POST', '/clients', { client_name: 'Strict', redirect_uris: ['http://127.0.0.1:1/cb'], require_mfa: true });
  expect(created.status).toBe(201);
  expect(created.body.require_mfa).toBe(true);
});
afterAll(async () => {
  await server?.close();
});

describe('two-step verification at sign-in', () => {
  it('signs in with a password alone where nothing asks for more, and says so in acr/amr', async () => {
    const user = await createUser(server);
    const { tokens, walk } = await signInThroughSteps(app, user, {});
    expect(walk.pages).toEqual(['login', 'consent']);
    expect(tokens!.claims()).toMatchObject({ amr: ['pwd'], acr: PASSWORD_ACR });
  });

  it('enrols an authenticator app inside the sign-in of an app that requires it, then asks for it everywhere', async () => {
    const user = await createUser(server);
    let secret = '';
    let recovery: string[] = [];
    const first = await signInThroughSteps(strictApp, user, {
      enrol: (shown) => { secret = shown; return appCode(shown); },
      recoveryCodes: (codes) => { recovery = codes; },
    });
    expect(first.walk.pages).toEqual(['login', 'enrol', 'recovery-codes', 'consent']);
    expect(recovery).toHaveLength(10);
    expect(first.tokens!.claims()).toMatchObject({ amr: ['pwd', 'otp', 'mfa'], acr: MFA_ACR });

    // Any app now: password, then a code from the app (the next step's: this one was used).
    const second = await signInThroughSteps(app, user, { code: () => appCode(secret, 1) });
    expect(second.walk.pages).toEqual(['login', 'second-step', 'consent']);
    expect(second.tokens!.claims()).toMatchObject({ amr: ['pwd', 'otp', 'mfa'], acr: MFA_ACR });

    // The same code again, in another sign-in: refused (no replay inside its window).
    const replay = await signInThroughSteps(app, user, { code: () => appCode(secret, 1) });
    expect(replay.tokens).toBeUndefined();
    expect(replay.walk.lastPage).toContain('That code is not right');
  });
});

/** A user who set up an app through a sign-in that required it; returns the app's secret. */
async function userWithApp() {
  const user = await createUser(server);
  let secret = '';
  let recovery: string[] = [];
  const { tokens } = await signInThroughSteps(strictApp, user, {
    enrol: (shown) => { secret = shown; return appCode(shown); }, recoveryCodes: (codes) => { recovery = codes; },
  });
  expect(tokens).toBeDefined();
  return { user, secret, recovery };
}

/** A sign-in to `app` whose password was accepted: its browser waits at the second step. */
async function atSecondStep(user: { username: string; password: string }): Promise<{ agent: UserAgent; uid: string }> {
  const agent = new UserAgent();
  const url = client.buildAuthorizationUrl(app.config, {
    redirect_uri: app.redirectUri, scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256',
  });
  const login = await agent.follow(url, app.redirectUri);
  const uid = /\/interaction\/([\w-]+)\//.exec(await login.res.text())![1]!;
  const step = await agent.submit(`${server.issuer}/interaction/${uid}/login`, app.redirectUri, { login: user.username, password: user.password });
  expect(step.url).toContain('/second-step');
  return { agent, uid };
}

describe('step-up with acr_values', () => {
  it('asks a session signed in with a password only for the second step, without the password', async () => {
    const user = await createUser(server);
    const agent = new UserAgent();
    const first = await signInThroughSteps(app, user, {}, {}, agent);
    expect(first.tokens!.claims()?.acr).toBe(PASSWORD_ACR);
    // The app now wants more, inside the same browser session: enrolment, no password page.
    let secret = '';
    const stepUp = await signInThroughSteps(app, undefined, { enrol: (shown) => { secret = shown; return appCode(shown); } }, { acr_values: MFA_ACR }, agent);
    expect(stepUp.walk.pages).toEqual(['enrol', 'recovery-codes']);
    expect(stepUp.tokens!.claims()).toMatchObject({ acr: MFA_ACR, amr: ['pwd', 'otp', 'mfa'] });
    // Signed in with both now: asking again needs nothing more.
    const again = await signInThroughSteps(app, undefined, {}, { acr_values: MFA_ACR }, agent);
    expect(again.walk.pages).toEqual([]);
    expect(again.tokens!.claims()?.acr).toBe(MFA_ACR);
    expect(secret).not.toBe('');
  });

  it('re-asks password and code with prompt=login', async () => {
    const { user, secret, recovery } = await userWithApp();
    const agent = new UserAgent();
    // A recovery code here, so the app's next code is still unused for the sign-in below.
    expect((await signInThroughSteps(app, user, { recoveryCode: recovery[0]! }, {}, agent)).tokens).toBeDefined();
    const again = await signInThroughSteps(app, user, { code: () => appCode(secret, 1) }, { prompt: 'login' }, agent);
    expect(again.walk.pages).toEqual(['login', 'second-step']);
    expect(again.tokens!.claims()?.acr).toBe(MFA_ACR);
  });

  it('advertises the acr values in discovery', async () => {
    const meta = await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
    expect(meta.acr_values_supported).toEqual([PASSWORD_ACR, MFA_ACR]);
  });
});

describe('recovery codes', () => {
  it('sign in once each, and say how many are left', async () => {
    const { user, recovery } = await userWithApp();
    const used = await signInThroughSteps(app, user, { recoveryCode: recovery[3]!.toUpperCase() });
    expect(used.walk.pages).toEqual(['login', 'second-step', 'recovery-code', 'notice', 'consent']);
    expect(used.tokens!.claims()?.acr).toBe(MFA_ACR);
    const again = await signInThroughSteps(app, user, { recoveryCode: recovery[3]! });
    expect(again.tokens).toBeUndefined();
    expect(again.walk.lastPage).toContain('That code is not right');
    const other = await signInThroughSteps(app, user, { recoveryCode: recovery[4]! });
    expect(other.tokens).toBeDefined();
    const events = await server.events.model.find({ accountId: user.sub, type: 'mfa.recovery_code_used' }).lean();
    expect(events.map((e) => (e.detail as { left: number }).left).sort()).toEqual([8, 9]);
  });
});

describe('guessing codes', () => {
  it('evaluates at most the limit of 40 wrong codes sent at once', async () => {
    const { user, secret } = await userWithApp();
    // Forty sign-ins at the second step (their passwords checked one after another: the
    // hashing gate would shed a burst of them), then forty wrong codes at once.
    const agents: Array<{ agent: UserAgent; uid: string }> = [];
    for (let i = 0; i < 40; i += 1) agents.push(await atSecondStep(user));
    const wrong = appCode(secret, 5);
    const answers = await Promise.all(agents.map(({ agent, uid }) => agent.submit(`${server.issuer}/interaction/${uid}/second-step`, app.redirectUri, { code: wrong })));
    const evaluated = await server.events.model.countDocuments({ accountId: user.sub, type: 'mfa.failed' });
    expect(evaluated).toBeLessThanOrEqual(10);
    expect(answers.filter((a) => a.res.status === 429).length).toBeGreaterThanOrEqual(30);
  });
});

describe('a second step is dated by its first', () => {
  it('does not finish a sign-in whose password changed between the two steps', async () => {
    const { user, secret } = await userWithApp();
    const { agent, uid } = await atSecondStep(user);
    const admin = await adminToken(server.issuer);
    expect((await api(server.issuer, admin, 'PATCH', `/users/${user.sub}`, { password: 'a-new-password-for-this-user' })).status).toBe(200);
    const second = await agent.submit(`${server.issuer}/interaction/${uid}/second-step`, app.redirectUri, { code: appCode(secret, 1) });
    expect(second.url.startsWith(app.redirectUri)).toBe(false);
    expect(await second.res.text()).toContain('Your account changed during this sign-in');
  });
});

describe('MFA=required', () => {
  it('makes every account set up a second step before it gets a code, for any app', async () => {
    const strict = await startServer({ env: { MFA: 'required' } });
    try {
      const plainApp = await registerClient(strict);
      const user = await createUser(strict);
      const { walk, tokens } = await signInThroughSteps(plainApp, user, { enrol: (shown) => appCode(shown) });
      expect(walk.pages).toEqual(['login', 'enrol', 'recovery-codes', 'consent']);
      expect(tokens!.claims()?.acr).toBe(MFA_ACR);
    } finally {
      await strict.close();
    }
  });
});
