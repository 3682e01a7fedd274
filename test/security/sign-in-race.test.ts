import { setTimeout as sleep } from 'node:timers/promises';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { adminToken, api } from '../admin/support.js';
import { openAccountCenter, postAccountForm } from '../support/account-center.js';
import { createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import type { TestServer } from '../support/server.js';
import { linkIn, type SmtpCapture } from '../support/smtp.js';
import type { UserAgent } from '../support/user-agent.js';
import { beginAuthorization, freshAgent, hidden, startWithMail, submit, type Authorization } from '../registration/support.js';

/** Sign-ins with the old password in flight at once, each from its own network (so no throttle stops them). */
const IN_FLIGHT = 20;
/**
 * Where in its second each race starts (ms), near a boundary. The sign-ins stay queued for
 * more than a second after the cut-off (see the server's settings below), so some finish in
 * a later second than it: the case a sign-in dated by the clock at its end got wrong.
 */
const NEAR_BOUNDARY = 950;

let server: TestServer;
let smtp: SmtpCapture;
let rp: RegisteredClient;
let admin: string;

beforeAll(async () => {
  // A high argon2id cost, one check at a time: twenty sign-ins queue in the hashing gate for
  // well over a second, as on a busy deployment, so some finish in a later second than the
  // cut-off whatever its millisecond.
  ({ server, smtp } = await startWithMail({
    PASSWORD_ARGON2_MEMORY_KIB: '65536', PASSWORD_ARGON2_ITERATIONS: '3', PASSWORD_HASH_CONCURRENCY: '1', PASSWORD_HASH_QUEUE: '64',
  }));
  rp = await registerClient(server);
  admin = await adminToken(server.issuer);
});
afterAll(async () => {
  await server?.close();
  await smtp?.close();
});

type User = Awaited<ReturnType<typeof createUser>>;

/** One thief's sign-in, ready to post its password. */
interface Attempt {
  agent: UserAgent;
  auth: Authorization;
}

interface Answer {
  status: number;
  location: string | null;
  /** When the answer arrived (epoch milliseconds). */
  at: number;
}

/** Waits until the clock reads `ms` past a whole second, so the race straddles a second boundary. */
async function untilMillisecond(ms: number): Promise<void> {
  await sleep((ms - (Date.now() % 1000) + 1000) % 1000);
}

/**
 * The password change runs while the thief's twenty sign-ins with the old password are in
 * flight. `changeChecksFirst`: the change itself checks a password in the same hashing gate
 * (the account center's current password), so it starts first and the sign-ins queue behind it.
 */
async function race(user: User, change: () => Promise<void>, changeChecksFirst: boolean) {
  const attempts: Attempt[] = await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    const agent = freshAgent();
    return { agent, auth: await beginAuthorization(agent, rp) };
  }));
  await untilMillisecond(NEAR_BOUNDARY);
  const started = () => server.accounts.passwordChecks.started;
  let checksBefore = started();
  let changing: Promise<void> | undefined;
  if (changeChecksFirst) {
    changing = change();
    while (started() === checksBefore) await sleep(1);
    checksBefore = started();
  }
  const answers = attempts.map(async ({ agent, auth }): Promise<Answer> => {
    const res = await agent.request(`${server.issuer}/interaction/${auth.uid}/login`, { form: { login: user.username, password: user.password } });
    return { status: res.status, location: res.headers.get('location'), at: Date.now() };
  });
  // The sign-ins have read the account (old password hash) and wait for their hash.
  while (started() === checksBefore) await sleep(1);
  await (changing ?? change());
  const settled = await Promise.all(answers);
  // The instant the change cut the account's past off: what finished after it was in flight across it.
  const cutOff = (await server.accounts.model.findById(user.sub).lean())!.tokensValidAfter!.getTime();
  return { attempts, answers: settled, finishedAfterCutOff: settled.filter((answer) => answer.at > cutOff).length };
}

/** What one thief's sign-in yields once the password changed: a code, a refresh, a silent sign-in (each must be none). */
async function yields(attempt: Attempt, answer: Answer): Promise<string[]> {
  const got: string[] = [];
  if (answer.status !== 303 || !answer.location) return got;
  const step = await attempt.agent.follow(new URL(answer.location, server.issuer), rp.redirectUri);
  let callback = step.url.startsWith(rp.redirectUri) ? step.url : undefined;
  if (!callback) {
    const uid = /\/interaction\/([\w-]+)\/confirm/.exec(await step.res.text())?.[1];
    if (uid) callback = (await submit(attempt.agent, `${server.issuer}/interaction/${uid}/confirm`, {}, rp.redirectUri)).landed;
  }
  if (callback && new URL(callback).searchParams.has('code')) {
    got.push('code');
    const tokens = await client.authorizationCodeGrant(rp.config, new URL(callback), {
      pkceCodeVerifier: attempt.auth.verifier, expectedState: attempt.auth.state, expectedNonce: attempt.auth.nonce,
    }).catch(() => undefined);
    if (tokens) got.push('tokens');
    if (tokens?.refresh_token && (await client.refreshTokenGrant(rp.config, tokens.refresh_token).catch(() => undefined))) got.push('refresh');
  }
  if (await silentCode(attempt.agent)) got.push('prompt=none');
  return got;
}

/** An authorization request with prompt=none on the thief's cookie: a code only for a live session. */
async function silentCode(agent: UserAgent): Promise<boolean> {
  const url = client.buildAuthorizationUrl(rp.config, {
    redirect_uri: rp.redirectUri, scope: 'openid', prompt: 'none', state: client.randomState(),
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256',
  });
  const landed = await agent.follow(url, rp.redirectUri);
  return landed.url.startsWith(rp.redirectUri) && new URL(landed.url).searchParams.has('code');
}

async function expectNothingSurvives(user: User, change: () => Promise<void>, changeChecksFirst = false) {
  const { attempts, answers, finishedAfterCutOff } = await race(user, change, changeChecksFirst);
  // The attack was mounted: sign-ins that read the old password were still checking when the past was cut off.
  expect(finishedAfterCutOff).toBeGreaterThan(0);
  const loot = await Promise.all(attempts.map((attempt, i) => yields(attempt, answers[i]!)));
  expect(loot.flat()).toEqual([]);
}

describe('a sign-in with the old password in flight across a password change', () => {
  it('yields nothing when the operator sets a new password (PATCH /admin/users/{id})', async () => {
    const user = await createUser(server);
    await expectNothingSurvives(user, async () => {
      const res = await api(server.issuer, admin, 'PATCH', `/users/${user.sub}`, { password: 'operator set passphrase' });
      expect(res.status).toBe(200);
    });
  });

  it('yields nothing when the owner sets a new password through a reset link', async () => {
    const user = await createUser(server);
    const agent = freshAgent();
    const forgot = await (await agent.request(`${server.issuer}/password/forgot`)).text();
    await agent.request(`${server.issuer}/password/forgot`, { form: { csrf: hidden(forgot, 'csrf'), login: user.username } });
    const page = await (await agent.request(linkIn(await smtp.next(user.email)))).text();
    await expectNothingSurvives(user, async () => {
      const res = await agent.request(`${server.issuer}/password/reset`, {
        form: { csrf: hidden(page, 'csrf'), token: hidden(page, 'token'), password: 'reset link passphrase' },
      });
      expect(res.status).toBe(200);
    });
  });

  it('yields nothing when the owner changes the password in the account center', async () => {
    const user = await createUser(server);
    const owner = freshAgent();
    const { csrf } = await openAccountCenter(server, owner, user);
    await expectNothingSurvives(user, async () => {
      const res = await postAccountForm(server, owner, csrf, '/password', { current_password: user.password, new_password: 'account center passphrase' });
      expect(res.url).toBe(`${server.issuer}/account?notice=password-changed`);
    }, true);
    // The owner's own device stays signed in, and the new password signs in.
    expect((await openAccountCenter(server, owner)).status).toBe(200);
    expect((await openAccountCenter(server, freshAgent(), { username: user.username, password: 'account center passphrase' })).status).toBe(200);
  });
});
