import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { defaults } from '../../config/defaults.js';
import { nextAddress, openLoginForm, type LoginAnswer } from '../support/login-form.js';
import { createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';

const { maxFailuresPerUser, maxFailuresPerIp, waitIncrementSeconds } = defaults.loginThrottle;
const LOCKED = 'Too many failed sign-in attempts';

let server: TestServer;
let rp: RegisteredClient;

beforeAll(async () => {
  // Behind a proxy: each test speaks from its own address through X-Forwarded-For.
  server = await startServer({ env: { TRUST_PROXY: 'true' } });
  rp = await registerClient(server);
});

afterAll(async () => {
  await server?.close();
});

const form = (ip = nextAddress()) => openLoginForm(server.issuer, rp, ip);
const statuses = (answers: LoginAnswer[]) => answers.reduce<Record<number, number>>((n, a) => ({ ...n, [a.status]: (n[a.status] ?? 0) + 1 }), {});
const lockoutEvents = async (filter: Record<string, unknown>, accountId?: string) =>
  (await server.events.model.find({ type: 'login.locked_out', ...(accountId ? { accountId } : {}) }).lean())
    .filter((e) => Object.entries(filter).every(([k, v]) => e.detail?.[k] === v));

describe('sign-in limits per username and network', () => {
  it(`locks a username out after ${maxFailuresPerUser} failures, even for the right password, with Retry-After`, async () => {
    const user = await createUser(server);
    const { submit } = await form();
    for (let i = 0; i < maxFailuresPerUser; i += 1) expect((await submit(user.username, 'wrong')).status).toBe(401);
    expect(await lockoutEvents({ scope: 'user' }, user.sub)).toHaveLength(1);

    const locked = await submit(user.username, user.password);
    expect(locked.status).toBe(429);
    expect(Number(locked.retryAfter)).toBeGreaterThan(waitIncrementSeconds - 5);
    expect(Number(locked.retryAfter)).toBeLessThanOrEqual(waitIncrementSeconds);
    expect(locked.html).toContain(LOCKED);
    expect(locked.html).toContain('name="password"');
    expect(await lockoutEvents({ scope: 'user' }, user.sub)).toHaveLength(1);

    const other = await createUser(server);
    expect((await (await form()).submit(other.username, other.password)).status).toBe(303);
  });

  it('says when to try again, and keeps no typed name in its lockout events: the account id, or a keyed hash', async () => {
    const user = await createUser(server);
    // Someone typed their password into the username field, five times.
    const typedPassword = `my secret passphrase ${Date.now()}`;
    const [real, mistaken] = await Promise.all([form(), form()]);
    for (let i = 0; i < maxFailuresPerUser; i += 1) {
      await real.submit(user.username, 'wrong');
      await mistaken.submit(typedPassword, 'wrong');
    }
    const locked = await real.submit(user.username, user.password);
    expect(locked.html).toContain(`${LOCKED}. Try again in ${waitIncrementSeconds / 60} minute.`);

    const [own] = await lockoutEvents({ scope: 'user' }, user.sub);
    expect(own?.detail).not.toHaveProperty('username');
    const stored = JSON.stringify(await server.events.model.find({}).lean());
    expect(stored).not.toContain(typedPassword);
    expect(stored).not.toContain(typedPassword.toLowerCase());
    const pseudonymous = (await lockoutEvents({ scope: 'user' })).filter((e) => !e.accountId && e.detail?.login_pseudonym);
    expect(pseudonymous.length).toBeGreaterThan(0);
    expect(pseudonymous.at(-1)!.detail!.login_pseudonym).toBe(server.events.pseudonym(typedPassword.toLowerCase()));
  });

  it('answers an unknown username exactly like an existing one, lockout included', async () => {
    const user = await createUser(server);
    const ghost = `${user.username}-ghost`;
    const [real, unknown] = await Promise.all([form(), form()]);
    for (let i = 0; i < maxFailuresPerUser; i += 1) {
      expect((await real.submit(user.username, 'wrong')).status).toBe(401);
      expect((await unknown.submit(ghost, 'wrong')).status).toBe(401);
    }
    const a = await real.submit(user.username, 'wrong');
    const b = await unknown.submit(ghost, 'wrong');
    expect([a.status, b.status]).toEqual([429, 429]);
    expect(a.retryAfter).toBe(b.retryAfter);
    // Only the interaction id and the echoed username differ.
    const page = (answer: LoginAnswer, uid: string, name: string) => answer.html.replaceAll(uid, 'UID').replaceAll(name, 'NAME');
    expect(page(a, real.uid, user.username)).toBe(page(b, unknown.uid, ghost));
  });

  it('forgets earlier failures after a successful sign-in', async () => {
    const user = await createUser(server);
    const ip = nextAddress();
    const first = await form(ip);
    for (let i = 0; i < maxFailuresPerUser - 1; i += 1) expect((await first.submit(user.username, 'wrong')).status).toBe(401);
    expect((await first.submit(user.username, user.password)).status).toBe(303);

    const second = await form(ip);
    for (let i = 0; i < maxFailuresPerUser - 1; i += 1) expect((await second.submit(user.username, 'wrong')).status).toBe(401);
    expect((await second.submit(user.username, user.password)).status).toBe(303);
  });

  it(`evaluates at most ${maxFailuresPerUser} of 40 parallel guesses for one username`, async () => {
    const user = await createUser(server);
    const { submit } = await form();
    const checksBefore = server.accounts.passwordChecks.started;
    const guesses = Array.from({ length: 40 }, (_, i) => (i === 19 ? user.password : `guess-${i}`));
    const answers = await Promise.all(guesses.map((guess) => submit(user.username, guess)));

    const evaluated = answers.filter((a) => a.status === 401 || a.status === 303).length;
    expect(evaluated).toBeLessThanOrEqual(maxFailuresPerUser);
    expect(server.accounts.passwordChecks.started - checksBefore).toBeLessThanOrEqual(maxFailuresPerUser);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(40 - evaluated);
    expect(answers.every((a) => a.status !== 429 || (a.retryAfter && a.html.includes(LOCKED)))).toBe(true);
    // The right password signs in only if it happened to be among the evaluated ones.
    if (answers[19]!.status === 303) expect(evaluated).toBeLessThanOrEqual(maxFailuresPerUser);
    else expect(answers[19]!.status).toBe(429);
  });

  it('refuses the right password sent while the first guesses are still being checked', async () => {
    const user = await createUser(server);
    const { submit } = await form();
    const checksBefore = server.accounts.passwordChecks.started;
    const early = Array.from({ length: 19 }, (_, i) => submit(user.username, `early-${i}`));
    // Once the limit's worth of checks has started, every slot of this round is reserved.
    while (server.accounts.passwordChecks.started - checksBefore < maxFailuresPerUser) await sleep(2);
    const late = [submit(user.username, user.password), ...Array.from({ length: 20 }, (_, i) => submit(user.username, `late-${i}`))];
    const answers = await Promise.all([...early, ...late]);

    expect(answers[19]!.status).toBe(429);
    expect(statuses(answers)).toEqual({ 401: maxFailuresPerUser, 429: 40 - maxFailuresPerUser });
    expect(server.accounts.passwordChecks.started - checksBefore).toBe(maxFailuresPerUser);
    expect(await lockoutEvents({ scope: 'user' }, user.sub)).toHaveLength(1);
  });

  it("lets failures for 'ALICE' on an attacker's network leave alice's own network alone", async () => {
    const alice = await createUser(server, { username: `alice-${Date.now()}` });
    const attacker = await form();
    for (let i = 0; i < maxFailuresPerUser; i += 1) expect((await attacker.submit(alice.username.toUpperCase(), 'wrong')).status).toBe(401);
    // Same name for the throttle (usernames are case-insensitive), so locked there …
    expect((await attacker.submit(alice.username, alice.password)).status).toBe(429);
    // … but not from alice's own network, where any capitalisation of her name signs her in.
    expect((await (await form()).submit(alice.username, alice.password)).status).toBe(303);
    expect((await (await form()).submit(`  ${alice.username.toUpperCase()}`, alice.password)).status).toBe(303);
  });

  it(`locks a network out after ${maxFailuresPerIp} failures spread over many usernames`, async () => {
    const ip = nextAddress();
    const user = await createUser(server);
    const sprayer = await form(ip);
    // In parallel (what the hashing gate does not take yet is refused with 503), then one by one.
    const answers = await Promise.all(Array.from({ length: maxFailuresPerIp + 10 }, (_, i) => sprayer.submit(`spray-${i}`, 'Winter2026!')));
    for (let i = 0; i < maxFailuresPerIp + 10; i += 1) answers.push(await sprayer.submit(`spray-more-${i}`, 'Winter2026!'));
    expect(statuses(answers)[401]).toBe(maxFailuresPerIp);
    expect(answers.at(-1)!.status).toBe(429);
    expect(await lockoutEvents({ scope: 'ip' })).toHaveLength(1);

    const fromThere = await (await form(ip)).submit(user.username, user.password);
    expect(fromThere.status).toBe(429);
    expect(fromThere.retryAfter).toMatch(/^\d+$/);
    expect((await (await form()).submit(user.username, user.password)).status).toBe(303);
  });

  it('takes the address the proxy appended, not one the client put in front of it', async () => {
    const user = await createUser(server);
    const proxySaw = nextAddress();
    const first = await form(`203.0.113.1, ${proxySaw}`);
    for (let i = 0; i < maxFailuresPerUser; i += 1) expect((await first.submit(user.username, 'wrong')).status).toBe(401);
    const spoofed = await form(`203.0.113.2, ${proxySaw}`);
    expect((await spoofed.submit(user.username, 'wrong')).status).toBe(429);
  });
});

describe('growing lockouts', () => {
  let slow: TestServer;
  let slowRp: RegisteredClient;

  beforeAll(async () => {
    // No TRUST_PROXY here: X-Forwarded-For must change nothing.
    slow = await startServer({ env: { LOGIN_LOCKOUT_WAIT_INCREMENT: '1', LOGIN_LOCKOUT_MAX_WAIT: '2' } });
    slowRp = await registerClient(slow);
  });

  afterAll(async () => {
    await slow?.close();
  });

  it('waits one increment longer after each lockout in a row, up to the maximum', async () => {
    const user = await createUser(slow);
    const waits: string[] = [];
    for (let lockout = 1; lockout <= 3; lockout += 1) {
      const { submit } = await openLoginForm(slow.issuer, slowRp, nextAddress());
      for (let i = 0; i < maxFailuresPerUser; i += 1) expect((await submit(user.username, 'wrong')).status).toBe(401);
      const locked = await submit(user.username, user.password);
      expect(locked.status).toBe(429);
      waits.push(locked.retryAfter!);
      await sleep(Number(locked.retryAfter) * 1000 + 300);
    }
    expect(waits).toEqual(['1', '2', '2']);
    const events = await slow.events.model.find({ type: 'login.locked_out', accountId: user.sub }).lean();
    expect(events.map((e) => [e.detail?.lockout, e.detail?.seconds])).toEqual([[1, 1], [2, 2], [3, 2]]);
    // After the last lockout has passed, the right password signs in and resets the count.
    const { submit } = await openLoginForm(slow.issuer, slowRp);
    expect((await submit(user.username, user.password)).status).toBe(303);
  });
});
