import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { defaults } from '../../config/defaults.js';
import { CALLBACK, codeFlow, discover, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { UserAgent } from '../support/user-agent.js';
import { adminToken, api, Contract } from './support.js';

let server: TestServer;
let token: string;
let contract: Contract;
let app: RegisteredClient;

const call = (method: string, path: string, body?: unknown, raw?: { body: string; type: string }) => api(server.issuer, token, method, path, body, raw);

async function createUser(username: string, extra: Record<string, string> = {}) {
  const res = await call('POST', '/users', { username, password: `${username}-password`, ...extra });
  expect(res.status).toBe(201);
  contract.check('POST', '/users', res);
  return { id: String(res.body.id), username, password: `${username}-password` };
}

beforeAll(async () => {
  server = await startServer();
  token = await adminToken(server.issuer);
  contract = await Contract.fetch(`${server.issuer}/admin/openapi.json`);
  const created = await call('POST', '/clients', { client_name: 'Notes', redirect_uris: [CALLBACK] });
  const secret = String(created.body.client_secret);
  app = {
    clientId: String(created.body.client_id), clientSecret: secret, redirectUri: CALLBACK,
    config: await discover(server.issuer, String(created.body.client_id), { redirect_uris: [CALLBACK] }, client.ClientSecretBasic(secret)),
  };
});
afterAll(async () => server?.close());

describe('managing users', () => {
  it('creates a user who can sign in, and never shows the password hash', async () => {
    const user = await createUser('dave', { email: 'Dave@Example.test', name: 'Dave' });
    const shown = await call('GET', `/users/${user.id}`);
    contract.check('GET', '/users/{id}', shown);
    expect(shown.body).toMatchObject({ id: user.id, username: 'dave', email: 'dave@example.test', name: 'Dave', disabled: false });
    expect(JSON.stringify(shown.body)).not.toMatch(/passwordHash|scrypt/);
    const { tokens } = await codeFlow(app, { login: user });
    expect(tokens.claims()!.sub).toBe(user.id);
  });

  it('answers 409 for a username that is taken', async () => {
    await createUser('erin');
    const res = await call('POST', '/users', { username: 'erin', password: 'another-password' });
    expect(res.status).toBe(409);
    contract.check('POST', '/users', res);
    expect(await server.accounts.model.countDocuments({ username: 'erin' })).toBe(1);
  });

  it('lists users in pages and filters by a literal username prefix', async () => {
    for (const name of ['team.one', 'teamXone', 'team.two']) await createUser(name);
    const dotted = await call('GET', '/users?username_prefix=team.');
    contract.check('GET', '/users', dotted);
    expect((dotted.body.users as Array<{ username: string }>).map((u) => u.username)).toEqual(['team.one', 'team.two']);
    const regexy = await call('GET', `/users?username_prefix=${encodeURIComponent('.*')}`);
    expect(regexy.body.users).toEqual([]);

    const first = await call('GET', '/users?username_prefix=team&limit=2');
    expect(first.body.users).toHaveLength(2);
    expect(first.body.next_offset).toBe(2);
    const second = await call('GET', '/users?username_prefix=team&limit=2&offset=2');
    expect((second.body.users as unknown[]).length).toBe(1);
    expect(second.body.next_offset).toBeNull();
  });

  it('changes name, email and password; the old password stops working', async () => {
    const user = await createUser('frank', { email: 'frank@example.test' });
    const res = await call('PATCH', `/users/${user.id}`, { name: 'Frank F.', email: null, password: 'a-new-password' });
    expect(res.status).toBe(200);
    contract.check('PATCH', '/users/{id}', res);
    expect(res.body).toMatchObject({ name: 'Frank F.' });
    expect(res.body).not.toHaveProperty('email');
    expect(await server.accounts.authenticate('frank', user.password, '127.0.0.1')).toEqual({ outcome: 'invalid' });
    expect(await server.accounts.authenticate('frank', 'a-new-password', '127.0.0.1')).toMatchObject({ outcome: 'valid', account: { _id: user.id } });
  });

  it('deletes a user after ending their sessions and grants', async () => {
    const user = await createUser('grace');
    const agent = new UserAgent();
    await codeFlow(app, { login: user, agent });
    const res = await call('DELETE', `/users/${user.id}`);
    contract.check('DELETE', '/users/{id}', res);
    expect(res.body).toMatchObject({ id: user.id, revoked: { sessions_ended: 1, grants_revoked: 1 } });
    expect((await call('GET', `/users/${user.id}`)).status).toBe(404);
    expect(await server.store.collection('Session').countDocuments({ accountId: user.id })).toBe(0);
  });
});

describe('a disabled user', () => {
  it('loses every session and refresh token and cannot sign in again', async () => {
    const user = await createUser('heidi');
    const agent = new UserAgent();
    const { tokens } = await codeFlow(app, { login: user, agent, scope: 'openid offline_access', params: { prompt: 'consent' } });

    const res = await call('PATCH', `/users/${user.id}`, { disabled: true });
    expect(res.status).toBe(200);
    contract.check('PATCH', '/users/{id}', res);
    expect(res.body).toMatchObject({ disabled: true, tokens_valid_after: expect.any(String) });

    await expect(client.refreshTokenGrant(app.config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(client.fetchUserInfo(app.config, tokens.access_token, user.id)).rejects.toThrow();
    expect((await call('GET', `/users/${user.id}/sessions`)).body.sessions).toEqual([]);
    // The browser is asked for a password again, and the right one is refused.
    const url = client.buildAuthorizationUrl(app.config, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' });
    const page = await agent.follow(url, CALLBACK);
    const html = await page.res.text();
    expect(html).toContain('name="password"');
    const uid = /\/interaction\/([\w-]+)\//.exec(html)![1];
    const login = await agent.request(`${server.issuer}/interaction/${uid}/login`, { form: { login: user.username, password: user.password } });
    expect(login.status).toBe(401);
    expect(await login.text()).toContain('name="password"');
    expect(await server.events.model.countDocuments({ accountId: user.id, type: 'user.disabled' })).toBe(1);
  });
});

describe('bad input changes nothing', () => {
  it.each([
    ['an operator object for the username', { username: { $gt: '' }, password: 'long-enough-pw' }],
    ['an unknown field', { username: 'ivan', password: 'long-enough-pw', passwordHash: 'x' }],
    ['a number for the password', { username: 'ivan', password: 12345678 }],
    ['a too short password', { username: 'ivan', password: 'short' }],
    ['a password over 128 characters', { username: 'ivan', password: 'x'.repeat(129) }],
    ['the username as the password', { username: 'ivan-the-great', password: 'IVAN-THE-GREAT' }],
    ['a commonly used password', { username: 'ivan', password: 'password123' }],
    ['a malformed email', { username: 'ivan', password: 'long-enough-pw', email: 'not-an-email' }],
    ['a username with a dollar sign', { username: '$where', password: 'long-enough-pw' }],
  ])('refuses %s with 400', async (_name, body) => {
    const before = await server.accounts.model.countDocuments();
    const res = await call('POST', '/users', body);
    expect(res.status).toBe(400);
    contract.check('POST', '/users', res);
    expect(res.body.error).toBe('invalid_request');
    expect(await server.accounts.model.countDocuments()).toBe(before);
  });

  it('names the password rule that was broken, on create and on change', async () => {
    const created = await call('POST', '/users', { username: 'kim', password: 'qwertyuiop' });
    expect(created.body.error_description).toBe('password: This password is too common. Choose one that is harder to guess.');
    const user = await createUser('kim', { email: 'kim@example.com' });
    const changed = await call('PATCH', `/users/${user.id}`, { password: 'KIM@example.com' });
    expect(changed.status).toBe(400);
    expect(changed.body.error_description).toBe('password: Your password must not be your email address.');
    expect(await server.accounts.authenticate('kim', user.password, '127.0.0.1')).toMatchObject({ outcome: 'valid', account: { _id: user.id } });
  });

  it('answers 413 for a body over the limit', async () => {
    const res = await call('POST', '/users', { username: 'judy', password: 'x'.repeat(defaults.limits.bodyBytes) });
    expect(res.status).toBe(413);
    contract.check('POST', '/users', res);
    expect(await server.accounts.model.countDocuments({ username: 'judy' })).toBe(0);
  });

  it('answers 415 for a form body and 400 for broken JSON', async () => {
    const form = await call('POST', '/users', undefined, { body: 'username=judy&password=long-enough-pw', type: 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    contract.check('POST', '/users', form);
    const broken = await call('POST', '/users', undefined, { body: '{"username":', type: 'application/json' });
    expect(broken.status).toBe(400);
    contract.check('POST', '/users', broken);
    const list = await call('POST', '/users', undefined, { body: '["judy"]', type: 'application/json' });
    expect(list.status).toBe(400);
  });

  it('refuses operator-shaped query parameters and bad paging', async () => {
    for (const query of ['username_prefix[$ne]=x', 'limit=0', 'limit=abc', 'offset=-1', 'limit=1&limit=2', 'sort=username']) {
      const res = await call('GET', `/users?${query}`);
      expect(res.status, query).toBe(400);
      contract.check('GET', '/users', res);
    }
  });

  it('refuses an empty or unknown change to a user', async () => {
    const user = await createUser('ken');
    for (const body of [{}, { username: 'renamed' }, { disabled: 'yes' }]) {
      const res = await call('PATCH', `/users/${user.id}`, body);
      expect(res.status).toBe(400);
      contract.check('PATCH', '/users/{id}', res);
    }
    expect((await call('GET', `/users/${user.id}`)).body).toMatchObject({ username: 'ken', disabled: false });
  });

  it.each([
    ['GET', '/users/nobody', '/users/{id}'],
    ['PATCH', '/users/nobody', '/users/{id}'],
    ['DELETE', '/users/nobody', '/users/{id}'],
    ['GET', '/users/nobody/sessions', '/users/{id}/sessions'],
    ['GET', '/users/nobody/grants', '/users/{id}/grants'],
    ['POST', '/users/nobody/revoke', '/users/{id}/revoke'],
    ['DELETE', '/grants/nothing', '/grants/{grantId}'],
  ])('answers 404 for %s %s', async (method, path, template) => {
    const res = await call(method, path, method === 'PATCH' ? { name: 'x' } : undefined);
    expect(res.status).toBe(404);
    contract.check(method, template, res);
  });
});
