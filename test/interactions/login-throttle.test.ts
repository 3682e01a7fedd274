import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { defaults } from '../../config/defaults.js';
import { createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { UserAgent } from '../support/user-agent.js';

const { maxFailures } = defaults.loginThrottle;
let server: TestServer;
let rp: RegisteredClient;

beforeAll(async () => {
  server = await startServer();
  rp = await registerClient(server);
});

afterAll(async () => {
  await server?.close();
});

/** Opens the login page of a fresh authorization request; returns a function that submits it. */
async function loginPage(): Promise<(login: string, password: string) => Promise<{ status: number; html: string }>> {
  const agent = new UserAgent();
  const url = new URL('/auth', server.issuer);
  url.search = new URLSearchParams({
    client_id: rp.clientId, response_type: 'code', scope: 'openid', redirect_uri: rp.redirectUri,
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
  }).toString();
  const { res } = await agent.follow(url, rp.redirectUri);
  const uid = /\/interaction\/([\w-]+)\/login/.exec(await res.text())![1];
  return async (login, password) => {
    const submitted = await agent.request(new URL(`/interaction/${uid}/login`, server.issuer), { form: { login, password } });
    return { status: submitted.status, html: await submitted.text() };
  };
}

describe('login throttling', () => {
  it(`locks a username out after ${maxFailures} failed sign-ins, even with the right password`, async () => {
    const user = await createUser(server);
    const submit = await loginPage();
    for (let i = 0; i < maxFailures; i += 1) {
      expect((await submit(user.username, 'wrong')).status).toBe(401);
    }
    const events = await server.events.model.find({ type: 'login.locked_out' }).lean();
    expect(events.filter((e) => e.detail?.username === user.username)).toHaveLength(1);
    const locked = await submit(user.username, user.password);
    expect(locked.status).toBe(429);
    expect(locked.html).toContain('Too many failed sign-in attempts');
    expect(locked.html).toContain('name="password"');

    // Another user is not affected.
    const other = await createUser(server);
    expect((await (await loginPage())(other.username, other.password)).status).toBe(303);
  });

  it('locks unknown usernames the same way, so lockouts reveal nothing', async () => {
    const submit = await loginPage();
    for (let i = 0; i < maxFailures; i += 1) expect((await submit('nobody-by-this-name', 'wrong')).status).toBe(401);
    expect((await submit('nobody-by-this-name', 'wrong')).status).toBe(429);
  });

  it('forgets earlier failures after a successful sign-in', async () => {
    const user = await createUser(server);
    const first = await loginPage();
    for (let i = 0; i < maxFailures - 1; i += 1) expect((await first(user.username, 'wrong')).status).toBe(401);
    expect((await first(user.username, user.password)).status).toBe(303);

    const second = await loginPage();
    for (let i = 0; i < maxFailures - 1; i += 1) expect((await second(user.username, 'wrong')).status).toBe(401);
    expect((await second(user.username, user.password)).status).toBe(303);
  });
});
