import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { adminToken, api } from '../admin/support.js';
import { CALLBACK, codeFlow, createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { UserAgent } from '../support/user-agent.js';

type User = Awaited<ReturnType<typeof createUser>>;
/** prompt=none drops offline_access (OIDC Core 11), so only the consent path gets a refresh token. */
type Tokens = { refreshToken?: string; accessToken: string };

/** What a stolen cookie got out of the server during one race. */
interface Loot {
  /** Codes not yet exchanged (with their PKCE verifiers). */
  codes: Array<{ callback: URL; verifier: string; state: string }>;
  tokens: Tokens[];
  /** Codes exchanged after the cut-off completed: must stay 0. */
  exchangedAfterCutOff: number;
}

const TRIALS = 5;
/** Parallel attacker loops, so some request is always in flight when the admin acts. */
const LOOPS = 3;
/** Each loop keeps attacking this many times after the admin call returned. */
const ROUNDS_AFTER = 3;

let server: TestServer;
let admin: string;
let app: RegisteredClient;

beforeAll(async () => {
  server = await startServer();
  admin = await adminToken(server.issuer);
  app = await registerClient(server);
});

afterAll(async () => {
  await server?.close();
});

/** The victim signs in with consent for offline access and a JWT for the API. */
async function signIn(user: User, agent = new UserAgent()) {
  const { tokens } = await codeFlow(app, {
    login: user, agent, scope: 'openid offline_access api:read',
    params: { prompt: 'consent', resource: server.settings.apiAudience },
  });
  return { agent, tokens };
}

/** A stolen copy of the victim's cookies. */
function steal(agent: UserAgent): UserAgent {
  const thief = new UserAgent();
  for (const [name, value] of agent.cookies) thief.cookies.set(name, value);
  return thief;
}

/**
 * One authorization request with the thief's cookies, approving consent if asked and
 * never typing a password. Returns the callback, or 'login' when a password is asked.
 */
async function tryAuthorize(thief: UserAgent, prompt: 'none' | 'consent') {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(app.config, {
    redirect_uri: CALLBACK, scope: 'openid offline_access api:read', state, prompt,
    resource: server.settings.apiAudience,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  let step = await thief.follow(url, CALLBACK);
  for (let pages = 0; pages < 3 && !step.url.startsWith(CALLBACK); pages += 1) {
    const html = await step.res.text();
    if (html.includes('name="password"')) return 'login' as const;
    const uid = /\/interaction\/([\w-]+)\/confirm/.exec(html)?.[1];
    if (!uid) return 'error' as const;
    step = await thief.follow(`${server.issuer}/interaction/${uid}/confirm`, CALLBACK, { form: {} });
  }
  const callback = new URL(step.url);
  return callback.searchParams.has('code') ? { callback, verifier, state } : ('error' as const);
}

async function exchange(code: Loot['codes'][number]): Promise<Tokens | undefined> {
  try {
    const tokens = await client.authorizationCodeGrant(app.config, code.callback, { pkceCodeVerifier: code.verifier, expectedState: code.state });
    return { refreshToken: tokens.refresh_token, accessToken: tokens.access_token };
  } catch (err) {
    if (err instanceof client.ResponseBodyError && err.error === 'invalid_grant') return undefined;
    throw err;
  }
}

/**
 * The attack, with cookies stolen from two of the victim's browsers: LOOPS loops of
 * /auth?prompt=none on the first session, and one loop through the consent page on the
 * second (a consent renews the session id, so it gets its own session), exchanging every
 * code at once, while `cutOff` runs. The loops go on for a few rounds after it returned.
 */
async function race(silent: UserAgent, consenting: UserAgent, cutOff: () => Promise<void>): Promise<Loot> {
  const loot: Loot = { codes: [], tokens: [], exchangedAfterCutOff: 0 };
  let done = false;
  const loop = async (thief: UserAgent, prompt: 'none' | 'consent') => {
    for (let roundsAfter = 0; roundsAfter < ROUNDS_AFTER;) {
      const wasDone = done;
      const outcome = await tryAuthorize(thief, prompt);
      if (typeof outcome === 'object') {
        const tokens = await exchange(outcome);
        if (tokens) {
          loot.tokens.push(tokens);
          if (wasDone) loot.exchangedAfterCutOff += 1;
        } else loot.codes.push(outcome);
      }
      if (wasDone) roundsAfter += 1;
    }
  };
  const loops = [
    loop(consenting, 'consent'),
    // One jar per loop: parallel requests would otherwise overwrite each other's cookies.
    ...Array.from({ length: LOOPS }, () => loop(steal(silent), 'none')),
  ];
  // Both kinds of loop are under way (each got tokens) before the admin acts.
  while (!loot.tokens.some((t) => t.refreshToken) || loot.tokens.length <= LOOPS) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await cutOff();
  done = true;
  await Promise.all(loops);
  return loot;
}

/** The victim signed in from two browsers; the thief copied both cookies. */
async function victimWithStolenCookies(user: User) {
  const first = await signIn(user);
  const second = await signIn(user);
  const victim = { refreshToken: first.tokens.refresh_token!, accessToken: first.tokens.access_token };
  return { victim, silent: steal(first.agent), consenting: steal(second.agent) };
}

/** Everything the thief (or the victim, before the cut-off) holds is dead now. */
async function expectAllDead(user: User, loot: Loot, victim: Tokens) {
  expect(loot.exchangedAfterCutOff).toBe(0);
  for (const code of loot.codes) expect(await exchange(code)).toBeUndefined();
  for (const tokens of [victim, ...loot.tokens]) {
    if (tokens.refreshToken) await expect(client.refreshTokenGrant(app.config, tokens.refreshToken)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await client.tokenIntrospection(app.config, tokens.accessToken)).toEqual({ active: false });
  }
  const sessions = await api(server.issuer, admin, 'GET', `/users/${user.sub}/sessions`);
  expect(sessions.body.sessions).toEqual([]);
}

/** The stolen cookie resumes nothing: prompt=none says login_required, and a password is asked. */
async function expectSignedOut(thief: UserAgent) {
  const url = client.buildAuthorizationUrl(app.config, {
    redirect_uri: CALLBACK, scope: 'openid', prompt: 'none', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256',
  });
  const silent = await thief.follow(url, CALLBACK);
  expect(new URL(silent.url).searchParams.get('error')).toBe('login_required');
  expect(await tryAuthorize(thief, 'consent')).toBe('login');
}

describe('one cut-off for a user\'s past, raced by a stolen session cookie', () => {
  it(`revocation: ${TRIALS} trials, nothing issued before it survives and the session stays gone`, async () => {
    for (let trial = 0; trial < TRIALS; trial += 1) {
      const user = await createUser(server);
      const { victim, silent, consenting } = await victimWithStolenCookies(user);
      const loot = await race(silent, consenting, async () => {
        const res = await api(server.issuer, admin, 'POST', `/users/${user.sub}/revoke`);
        expect(res.status).toBe(200);
      });
      await expectAllDead(user, loot, victim);
      await expectSignedOut(silent);
      await expectSignedOut(consenting);
    }
  });

  it('whatever a request in flight writes back after the cut-off stays dead', async () => {
    // The deterministic form of the race: every record of the user is written back after
    // the revocation, as in-flight requests' saves would (same ids, same payloads).
    const user = await createUser(server);
    const { victim, silent } = await victimWithStolenCookies(user);
    const pending = await tryAuthorize(silent, 'none');
    if (typeof pending !== 'object') throw new Error(`expected a code, got ${pending}`);
    const models = ['Session', 'Grant', 'AuthorizationCode', 'RefreshToken', 'AccessToken'];
    const saved = await Promise.all(models.map((m) => server.store.collection(m).find({ accountId: user.sub }).toArray()));
    expect(saved.map((docs) => docs.length > 0)).toEqual([true, true, true, true, false]);

    expect((await api(server.issuer, admin, 'POST', `/users/${user.sub}/revoke`)).status).toBe(200);
    for (const [i, docs] of saved.entries()) {
      for (const doc of docs) await server.store.collection(models[i]!).replaceOne({ _id: doc._id }, doc, { upsert: true });
    }

    const loot: Loot = { codes: [pending], tokens: [], exchangedAfterCutOff: 0 };
    await expectAllDead(user, loot, victim);
    await expectSignedOut(silent);
  });

  it('a consent page shown before the cut-off cannot be approved after it', async () => {
    const user = await createUser(server);
    const { consenting } = await victimWithStolenCookies(user);
    const url = client.buildAuthorizationUrl(app.config, {
      redirect_uri: CALLBACK, scope: 'openid offline_access', prompt: 'consent', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256',
    });
    const page = await consenting.follow(url, CALLBACK);
    const uid = /\/interaction\/([\w-]+)\/confirm/.exec(await page.res.text())?.[1];
    expect(uid).toBeTruthy();

    expect((await api(server.issuer, admin, 'POST', `/users/${user.sub}/revoke`)).status).toBe(200);
    const confirm = await consenting.follow(`${server.issuer}/interaction/${uid}/confirm`, CALLBACK, { form: {} });
    expect(confirm.url.startsWith(CALLBACK)).toBe(false);
    // oidc-provider re-reads the session behind the interaction; it now reads as signed out.
    expect(confirm.res.status).toBe(400);
    expect(await confirm.res.text()).toContain('session not found');
    expect((await api(server.issuer, admin, 'GET', `/users/${user.sub}/grants`)).body.grants).toEqual([]);
  });

  it('disable, then re-enable: the stolen session does not come back', async () => {
    for (let trial = 0; trial < 2; trial += 1) {
      const user = await createUser(server);
      const { victim, silent, consenting } = await victimWithStolenCookies(user);
      const loot = await race(silent, consenting, async () => {
        expect((await api(server.issuer, admin, 'PATCH', `/users/${user.sub}`, { disabled: true })).status).toBe(200);
      });
      expect((await api(server.issuer, admin, 'PATCH', `/users/${user.sub}`, { disabled: false })).status).toBe(200);
      await expectAllDead(user, loot, victim);
      await expectSignedOut(silent);
      await expectSignedOut(consenting);
    }
  });

  it('an admin password change ends the past; the new password signs in at once and works', async () => {
    for (let trial = 0; trial < 2; trial += 1) {
      const user = await createUser(server);
      const { victim, silent, consenting } = await victimWithStolenCookies(user);
      const password = `new-${user.password}`;
      const loot = await race(silent, consenting, async () => {
        expect((await api(server.issuer, admin, 'PATCH', `/users/${user.sub}`, { password })).status).toBe(200);
      });
      await expectAllDead(user, loot, victim);
      await expectSignedOut(silent);
      await expectSignedOut(consenting);

      // No false positive: signing in right after the cut-off (often in the same second) works.
      const fresh = await signIn({ ...user, password });
      const cutOff = Date.parse(String((await api(server.issuer, admin, 'GET', `/users/${user.sub}`)).body.tokens_valid_after));
      const sessions = (await api(server.issuer, admin, 'GET', `/users/${user.sub}/sessions`)).body.sessions as Array<{ login_at: string }>;
      expect(sessions).toHaveLength(1);
      // Dated after the cut-off's second, so the 1-second resolution cannot catch it.
      expect(Date.parse(sessions[0]!.login_at) / 1000).toBeGreaterThan(Math.floor(cutOff / 1000));
      expect(await client.tokenIntrospection(app.config, fresh.tokens.access_token)).toMatchObject({ active: true, sub: user.sub });
      const refreshed = await client.refreshTokenGrant(app.config, fresh.tokens.refresh_token!);
      expect(await client.tokenIntrospection(app.config, refreshed.access_token)).toMatchObject({ active: true });
      const again = await codeFlow(app, { agent: fresh.agent, scope: 'openid' });
      expect(again.tokens.claims()!.sub).toBe(user.sub);
    }
  });
});
