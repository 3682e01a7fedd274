import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { defaults } from '../../config/defaults.js';
import { nextAddress, openLoginForm, type LoginForm } from '../support/login-form.js';
import { createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';

/** The bound: a real sign-in beside 100 bogus ones in flight. Generous for a shared machine. */
const BOUND_MS = 3000;
const { argon2 } = defaults.password;

let server: TestServer;
let rp: RegisteredClient;

beforeAll(async () => {
  // The shipped argon2id cost, not the cheap test one: this is about CPU under load.
  server = await startServer({
    env: { TRUST_PROXY: 'true', PASSWORD_ARGON2_MEMORY_KIB: String(argon2.memoryKiB), PASSWORD_ARGON2_ITERATIONS: String(argon2.iterations) },
  });
  rp = await registerClient(server);
});

afterAll(async () => {
  await server?.close();
});

/** One bogus login POST on `form`'s interaction, as if from `ip`. */
async function bogus(form: LoginForm, ip: string, i: number): Promise<{ status: number; retryAfter: string | null; html: string }> {
  const cookie = [...form.agent.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const res = await fetch(new URL(`/interaction/${form.uid}/login`, server.issuer), {
    method: 'POST', redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
    body: new URLSearchParams({ login: `bogus-${i}`, password: `guess-${i}` }).toString(),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), html: await res.text() };
}

/** A real user signs in from their own network: from the login POST to the callback with a code.
 * A 503 is the designed answer when hashing is full: wait Retry-After and submit again. */
async function legitimateSignIn(user: { username: string; password: string }): Promise<{ ms: number; busy: number }> {
  const form = await openLoginForm(server.issuer, rp, nextAddress());
  const start = performance.now();
  let busy = 0;
  for (;;) {
    const answer = await form.submit(user.username, user.password);
    if (answer.status === 503 && busy < 2) {
      busy += 1;
      await new Promise((resolve) => setTimeout(resolve, Number(answer.retryAfter) * 1000));
      continue;
    }
    expect(answer.status).toBe(303);
    // On through the consent page to the client's callback.
    const url = await form.agent.authorize(new URL(answer.location!, server.issuer), rp.redirectUri);
    expect(new URL(url).searchParams.get('code')).toBeTruthy();
    return { ms: performance.now() - start, busy };
  }
}

describe('bounded password hashing under a burst of bogus logins', () => {
  it('sheds 100 bogus logins from one network before hashing; a real sign-in elsewhere stays fast', async () => {
    const user = await createUser(server);
    const attacker = await openLoginForm(server.issuer, rp, nextAddress());
    const ip = nextAddress();
    const started = server.accounts.passwordChecks.started;
    const burst = Promise.all(Array.from({ length: 100 }, (_, i) => bogus(attacker, ip, i)));
    const legit = await legitimateSignIn(user);
    const answers = await burst;

    expect(legit.ms).toBeLessThan(BOUND_MS);
    expect(legit.busy).toBe(0);
    // At most the network's limit is hashed; the rest is refused at once: 429 by the
    // throttle, or 503 when the network already holds its share of the hashing gate.
    expect(answers.filter((a) => a.status === 401).length).toBeLessThanOrEqual(defaults.loginThrottle.maxFailuresPerIp);
    expect(answers.filter((a) => a.status === 429).length).toBeGreaterThan(0);
    expect(answers.every((a) => [401, 429, 503].includes(a.status))).toBe(true);
    expect(server.accounts.passwordChecks.started - started).toBeLessThanOrEqual(defaults.loginThrottle.maxFailuresPerIp + 1);
  });

  it('sheds a login from a network that already holds its share before reserving a throttle slot', async () => {
    const ip = nextAddress();
    const form = await openLoginForm(server.issuer, rp, ip);
    const gate = server.accounts.passwordChecks;
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => { release = resolve; });
    const holds = Array.from({ length: server.settings.password.gate.perNetwork }, () => gate.run(ip, () => blocked));
    try {
      const answer = await form.submit('someone', 'a guess');
      expect(answer.status).toBe(503);
      expect(answer.retryAfter).toBe(String(defaults.hashGate.retryAfterSeconds));
      // Shedding is cheap: the network's sign-in counter was never touched.
      const counters = server.accounts.model.db.collection('login_attempts');
      expect(await counters.findOne({ _id: `ip:${ip}` as never })).toBeNull();
    } finally {
      release();
      await Promise.all(holds);
    }
  });

  it('answers 503 with Retry-After at once when 100 networks flood it; a real sign-in completes within 3 s', async () => {
    const user = await createUser(server);
    const attacker = await openLoginForm(server.issuer, rp, nextAddress());
    const refusedBefore = server.accounts.passwordChecks.refused;
    const burst = Promise.all(Array.from({ length: 100 }, (_, i) => bogus(attacker, nextAddress(), i)));
    const legit = await legitimateSignIn(user);
    const answers = await burst;

    expect(legit.ms).toBeLessThan(BOUND_MS);
    const busy = answers.filter((a) => a.status === 503);
    expect(busy.length).toBeGreaterThan(0);
    expect(busy.length).toBe(server.accounts.passwordChecks.refused - refusedBefore - legit.busy);
    expect(busy.every((a) => a.retryAfter === String(defaults.hashGate.retryAfterSeconds))).toBe(true);
    expect(busy[0]!.html).toContain('Please try again in a moment');
    expect(busy[0]!.html).toContain('name="password"');
    expect(answers.every((a) => a.status === 401 || a.status === 503)).toBe(true);
  });
});
