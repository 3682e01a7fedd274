import { readFile } from 'node:fs/promises';
import * as client from 'openid-client';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { codeFlow, createUser, registerClient, type Credentials, type RegisteredClient } from '../support/relying-party.js';
import { refresh } from '../support/refresh.js';
import { startServer, type TestServer } from '../support/server.js';
import { UserAgent } from '../support/user-agent.js';
import { accessTokenVerifier, BearerError } from '../../examples/snippets/jose-resource-server.js';
import { adminToken, api, Contract, tokenRequest } from '../admin/support.js';

const ORDERS = 'https://orders.example.com';
const TICKETS = 'https://tickets.example.com/api';

let server: TestServer;
let token: string;
let contract: Contract;
let app: RegisteredClient;
let staff: Credentials & { sub: string };
let customer: Credentials & { sub: string };
let supportRole: string;

const call = async (method: string, path: string, body?: unknown) => api(server.issuer, token, method, path, body);

beforeAll(async () => {
  server = await startServer();
  token = await adminToken(server.issuer);
  contract = await Contract.fetch(`${server.issuer}/admin/openapi.json`);
  [app, staff, customer] = await Promise.all([
    registerClient(server, { grant_types: ['authorization_code', 'refresh_token'] }),
    createUser(server), createUser(server),
  ]);
  const orders = await call('POST', '/resources', {
    indicator: ORDERS, name: 'Orders', access_token_ttl: 300,
    scopes: [{ name: 'orders:read', description: 'See your orders' }, { name: 'orders:write', description: 'Place orders for you' }],
  });
  contract.check('POST', '/resources', orders);
  expect(orders.status).toBe(201);
  const tickets = await call('POST', '/resources', {
    indicator: TICKETS, name: 'Support tickets', rbac: true, roles_claim: true,
    scopes: [{ name: 'tickets:read', description: 'Read support tickets' }, { name: 'tickets:delete', description: 'Delete support tickets' }],
  });
  expect(tickets.status).toBe(201);
  const role = await call('POST', '/roles', {
    name: 'support', description: 'Support staff',
    permissions: [{ resource: TICKETS, scope: 'tickets:read' }, { resource: TICKETS, scope: 'tickets:delete' }],
  });
  contract.check('POST', '/roles', role);
  expect(role.status).toBe(201);
  supportRole = String(role.body.id);
  const assigned = await call('PUT', `/users/${staff.sub}/roles`, { roles: [supportRole] });
  contract.check('PUT', '/users/{id}/roles', assigned);
  expect(assigned.status).toBe(200);
});

afterAll(async () => {
  await server?.close();
});

async function userTokens(user: Credentials, scope: string, resource: string) {
  const { tokens } = await codeFlow(app, { login: user, scope: `openid offline_access ${scope}`, params: { prompt: 'consent', resource } });
  return tokens;
}

async function verified(accessToken: string, audience: string) {
  const jwks = createRemoteJWKSet(new URL(`${server.issuer}/jwks`));
  return (await jwtVerify(accessToken, jwks, { issuer: server.issuer, audience, typ: 'at+jwt' })).payload;
}

describe('user tokens: the aud is the API, the scope what the user may have', () => {
  it('gives everyone the scopes of an API without RBAC, with its own lifetime', async () => {
    const tokens = await userTokens(customer, 'orders:read orders:write', ORDERS);
    const claims = await verified(tokens.access_token, ORDERS);
    expect(claims.scope).toBe('orders:read orders:write');
    expect(claims.exp! - claims.iat!).toBe(300);
    expect(claims.roles).toBeUndefined();
  });

  it('gives the scopes of an RBAC API only to users whose roles grant them, with their roles', async () => {
    const granted = await verified((await userTokens(staff, 'tickets:read tickets:delete', TICKETS)).access_token, TICKETS);
    expect(granted).toMatchObject({ scope: 'tickets:read tickets:delete', roles: ['support'], sub: staff.sub });

    const denied = await verified((await userTokens(customer, 'tickets:read tickets:delete', TICKETS)).access_token, TICKETS);
    expect(denied.scope).toBeUndefined();
    expect(denied.roles).toEqual([]);
  });

  it('drops a removed role\'s scopes at the next refresh and restores them when it is given back', async () => {
    const user = await createUser(server);
    expect((await call('PUT', `/users/${user.sub}/roles`, { roles: [supportRole] })).status).toBe(200);
    const tokens = await userTokens(user, 'tickets:read', TICKETS);
    expect(decodeJwt(tokens.access_token).scope).toBe('tickets:read');

    expect((await call('PUT', `/users/${user.sub}/roles`, { roles: [] })).status).toBe(200);
    const after = await refresh(app.config, tokens.refresh_token!);
    if (!after.ok) throw new Error(after.error);
    expect(decodeJwt(after.accessToken)).toMatchObject({ aud: TICKETS, roles: [] });
    expect(decodeJwt(after.accessToken).scope).toBeUndefined();

    expect((await call('PUT', `/users/${user.sub}/roles`, { roles: [supportRole] })).status).toBe(200);
    const back = await refresh(app.config, after.refreshToken);
    if (!back.ok) throw new Error(back.error);
    expect(decodeJwt(back.accessToken).scope).toBe('tickets:read');
  });

  it('takes an API\'s scopes from users without a role at their next refresh once it turns on RBAC, and from holders of a deleted role', async () => {
    const indicator = 'https://wiki.example.com';
    const wiki = await call('POST', '/resources', { indicator, name: 'Wiki', scopes: [{ name: 'wiki:edit', description: 'Edit pages' }] });
    const role = await call('POST', '/roles', { name: 'editor', permissions: [{ resource: indicator, scope: 'wiki:edit' }] });
    const [editor, reader] = await Promise.all([createUser(server), createUser(server)]);
    await call('PUT', `/users/${editor.sub}/roles`, { roles: [String(role.body.id)] });
    const editorTokens = await userTokens(editor, 'wiki:edit', indicator);
    const readerTokens = await userTokens(reader, 'wiki:edit', indicator);
    expect(decodeJwt(readerTokens.access_token).scope).toBe('wiki:edit');

    await call('PATCH', `/resources/${String(wiki.body.id)}`, { rbac: true });
    const [editorNext, readerNext] = await Promise.all([refresh(app.config, editorTokens.refresh_token!), refresh(app.config, readerTokens.refresh_token!)]);
    expect(editorNext.ok && decodeJwt(editorNext.accessToken).scope).toBe('wiki:edit');
    expect(readerNext.ok && decodeJwt(readerNext.accessToken).scope).toBeUndefined();

    await call('DELETE', `/roles/${String(role.body.id)}`);
    const editorAfter = editorNext.ok ? await refresh(app.config, editorNext.refreshToken) : editorNext;
    expect(editorAfter.ok && decodeJwt(editorAfter.accessToken)).toMatchObject({ aud: indicator });
    expect(editorAfter.ok && decodeJwt(editorAfter.accessToken).scope).toBeUndefined();
  });

  it('stops granting a scope removed from the role at the next refresh', async () => {
    const user = await createUser(server);
    const role = await call('POST', '/roles', { name: 'reader', permissions: [{ resource: TICKETS, scope: 'tickets:read' }, { resource: TICKETS, scope: 'tickets:delete' }] });
    await call('PUT', `/users/${user.sub}/roles`, { roles: [String(role.body.id)] });
    const tokens = await userTokens(user, 'tickets:read tickets:delete', TICKETS);
    expect(decodeJwt(tokens.access_token).scope).toBe('tickets:read tickets:delete');
    const patched = await call('PATCH', `/roles/${String(role.body.id)}`, { permissions: [{ resource: TICKETS, scope: 'tickets:read' }] });
    contract.check('PATCH', '/roles/{id}', patched);
    const after = await refresh(app.config, tokens.refresh_token!);
    expect(after.ok && decodeJwt(after.accessToken).scope).toBe('tickets:read');
  });

  it('shows the consent page the API by name with only the scopes the user will get, in words', async () => {
    const page = async (user: Credentials) => {
      const agent = new UserAgent();
      const url = client.buildAuthorizationUrl(app.config, {
        redirect_uri: app.redirectUri, scope: 'openid tickets:read tickets:delete orders:read', prompt: 'consent', resource: TICKETS,
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256',
      });
      const login = await agent.follow(url, app.redirectUri);
      const uid = /\/interaction\/([\w-]+)\//.exec(await login.res.text())![1];
      const consent = await agent.follow(`${server.issuer}/interaction/${uid}/login`, app.redirectUri, { form: { login: user.username, password: user.password } });
      return consent.res.text();
    };
    const forStaff = await page(staff);
    expect(forStaff).toContain('Support tickets');
    expect(forStaff).toContain('Delete support tickets');
    expect(forStaff).not.toContain(TICKETS);
    const forCustomer = await page(customer);
    expect(forCustomer).toContain('wants to access your account');
    expect(forCustomer).not.toContain('Support tickets');
    expect(forCustomer).not.toContain('Read support tickets');
  });

  it('shows the account center each connected app\'s APIs by name and scopes in words', async () => {
    const user = await createUser(server);
    await userTokens(user, 'orders:read orders:write', ORDERS);
    const agent = new UserAgent();
    const nowhere = 'http://never.invalid/';
    const login = await agent.follow(`${server.issuer}/account`, nowhere);
    const uid = /\/interaction\/([\w-]+)\//.exec(await login.res.text())![1];
    const page = await agent.follow(`${server.issuer}/interaction/${uid}/login`, nowhere, { form: { login: user.username, password: user.password } });
    const html = await page.res.text();
    expect(html).toContain('Orders: See your orders, Place orders for you');
    expect(html).not.toContain(ORDERS);
  });

  it('lets a resource server of the docs accept a token by aud and scope, and refuse the rest', async () => {
    const page = await readFile(new URL('../../docs/apis-and-roles.md', import.meta.url), 'utf8');
    const quoted = await readFile(new URL('../../examples/snippets/jose-resource-server.ts', import.meta.url), 'utf8');
    expect(page).toContain(`\n${quoted}\`\`\``);

    const verify = accessTokenVerifier(server.issuer, TICKETS);
    const staffToken = (await userTokens(staff, 'tickets:read tickets:delete', TICKETS)).access_token;
    expect(await verify(staffToken, 'tickets:delete')).toMatchObject({ sub: staff.sub, roles: ['support'] });
    const customerToken = (await userTokens(customer, 'tickets:read tickets:delete', TICKETS)).access_token;
    await expect(verify(customerToken, 'tickets:read')).rejects.toMatchObject({ status: 403, error: 'insufficient_scope' });
    const ordersToken = (await userTokens(staff, 'orders:read', ORDERS)).access_token;
    await expect(verify(ordersToken, 'orders:read')).rejects.toBeInstanceOf(BearerError);
    await expect(verify(ordersToken, 'orders:read')).rejects.toMatchObject({ status: 401 });
  });

  it('answers invalid_target for a resource that is not registered', async () => {
    const rs = await fetch(`${server.issuer}/auth?${new URLSearchParams({
      client_id: app.clientId, response_type: 'code', scope: 'openid', redirect_uri: app.redirectUri, resource: 'https://unknown.example.com',
      code_challenge: 'x'.repeat(43), code_challenge_method: 'S256',
    })}`, { redirect: 'manual' });
    expect(new URL(rs.headers.get('location')!).searchParams.get('error')).toBe('invalid_target');
  });
});

describe('machine-to-machine: client_credentials gets only what an operator granted', () => {
  it('refuses any API scope to a client without a grant, and anything beyond its grant', async () => {
    const created = await call('POST', '/clients', { client_name: 'Billing job', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
    const id = String(created.body.client_id);
    const secret = String(created.body.client_secret);
    const ask = async (params: Record<string, string>) => {
      const res = await tokenRequest(server.issuer, id, secret, params);
      return { status: res.status, body: (await res.json()) as Record<string, string> };
    };
    expect(await ask({ resource: ORDERS, scope: 'orders:read' })).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });

    const put = await call('PUT', `/clients/${id}/resource-scopes`, { grants: [{ resource: ORDERS, scopes: ['orders:read'] }] });
    contract.check('PUT', '/clients/{id}/resource-scopes', put);
    expect(put.body).toEqual({ client_id: id, grants: [{ resource: ORDERS, scopes: ['orders:read'] }] });
    contract.check('GET', '/clients/{id}/resource-scopes', await call('GET', `/clients/${id}/resource-scopes`));

    const granted = await ask({ resource: ORDERS, scope: 'orders:read' });
    expect(granted.status).toBe(200);
    expect(await verified(granted.body.access_token!, ORDERS)).toMatchObject({ client_id: id, scope: 'orders:read' });
    expect(await ask({ resource: ORDERS, scope: 'orders:read orders:write' })).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
    expect(await ask({ resource: TICKETS, scope: 'tickets:read' })).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
    // An indicator is matched as registered, character for character.
    for (const resource of ['https://unknown.example.com', 'https://ORDERS.example.com', `${ORDERS}/`, `${ORDERS}?x=1`]) {
      expect(await ask({ resource, scope: 'orders:read' }), resource).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
    }
    expect(await ask({ resource: `${server.issuer}/admin`, scope: 'admin' })).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
    expect(await ask({ scope: 'orders:read' })).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
  });

  it('keeps the admin client\'s admin token working', async () => {
    expect(decodeJwt(await adminToken(server.issuer))).toMatchObject({ aud: `${server.issuer}/admin`, scope: 'admin' });
  });
});

describe('the admin API for APIs and roles', () => {
  it('lists, shows, changes and deletes APIs and their scopes as documented', async () => {
    const created = await call('POST', '/resources', { indicator: 'urn:example:inventory', name: 'Inventory', scopes: [] });
    const id = String(created.body.id);
    contract.check('GET', '/resources', await call('GET', '/resources'));
    contract.check('GET', '/resources/{id}', await call('GET', `/resources/${id}`));
    const added = await call('POST', `/resources/${id}/scopes`, { scopes: [{ name: 'stock:read', description: 'See stock' }, { name: 'stock:write', description: 'Change stock' }] });
    contract.check('POST', '/resources/{id}/scopes', added);
    expect((added.body.scopes as unknown[]).length).toBe(2);
    const removed = await call('DELETE', `/resources/${id}/scopes/stock:write`);
    contract.check('DELETE', '/resources/{id}/scopes/{name}', removed);
    expect(removed.body.scopes).toEqual([{ name: 'stock:read', description: 'See stock' }]);
    const patched = await call('PATCH', `/resources/${id}`, { name: 'Stock', access_token_ttl: 120 });
    contract.check('PATCH', '/resources/{id}', patched);
    expect(patched.body).toMatchObject({ name: 'Stock', access_token_ttl: 120, indicator: 'urn:example:inventory' });
    const deleted = await call('DELETE', `/resources/${id}`);
    contract.check('DELETE', '/resources/{id}', deleted);
    expect((await call('GET', `/resources/${id}`)).status).toBe(404);
  });

  it('lists roles, a role\'s users and a user\'s roles as documented', async () => {
    contract.check('GET', '/roles', await call('GET', '/roles'));
    contract.check('GET', '/roles/{id}', await call('GET', `/roles/${supportRole}`));
    const users = await call('GET', `/roles/${supportRole}/users`);
    contract.check('GET', '/roles/{id}/users', users);
    expect(users.body.users).toContainEqual({ id: staff.sub, username: staff.username });
    const roles = await call('GET', `/users/${staff.sub}/roles`);
    contract.check('GET', '/users/{id}/roles', roles);
    expect((roles.body.roles as Array<{ name: string }>).map((r) => r.name)).toEqual(['support']);
    const temporary = await call('POST', '/roles', { name: 'temporary' });
    contract.check('DELETE', '/roles/{id}', await call('DELETE', `/roles/${String(temporary.body.id)}`));
  });

  it('answers bad input with a clear 4xx', async () => {
    const cases: Array<[string, string, unknown, number]> = [
      ['GET', '/resources/nope', undefined, 404],
      ['PATCH', '/resources/nope', { name: 'x' }, 404],
      ['DELETE', '/roles/nope', undefined, 404],
      ['PUT', '/users/nope/roles', { roles: [] }, 404],
      ['PUT', `/users/${customer.sub}/roles`, { roles: ['nope'] }, 400],
      ['PUT', '/clients/nope/resource-scopes', { grants: [] }, 404],
      ['POST', '/resources', { indicator: ORDERS, name: 'Again' }, 409],
      ['POST', '/resources', { indicator: 'not a uri', name: 'x' }, 400],
      ['POST', '/resources', { indicator: '/relative', name: 'x' }, 400],
      ['POST', '/resources', { indicator: 'https://x.example.com/#frag', name: 'x' }, 400],
      ['POST', '/resources', { indicator: `${server.issuer}/admin`, name: 'x' }, 400],
      ['POST', '/resources', { indicator: `${server.issuer}/account/`, name: 'x' }, 400],
      ['POST', '/resources', { indicator: `${server.issuer.toUpperCase()}/admin`, name: 'x' }, 400],
      ['POST', '/resources', { indicator: 'https://y.example.com', name: 'x', scopes: [{ name: 'openid', description: 'x' }] }, 400],
      ['POST', '/resources', { indicator: 'https://y.example.com', name: 'x', scopes: [{ name: 'a b', description: 'x' }] }, 400],
      ['POST', '/resources', { indicator: 'https://y.example.com', name: 'x', scopes: [{ name: 'a', description: 'x' }, { name: 'a', description: 'y' }] }, 400],
      ['POST', '/resources', { indicator: 'https://y.example.com', name: 'x', rbac: 'yes' }, 400],
      ['POST', '/roles', { name: 'bad', permissions: [{ resource: 'https://unknown.example.com', scope: 'x' }] }, 400],
      ['POST', '/roles', { name: 'bad', permissions: [{ resource: TICKETS, scope: 'tickets:fly' }] }, 400],
      ['POST', '/roles', { name: 'support' }, 409],
      ['DELETE', `/resources/nope/scopes/x`, undefined, 404],
    ];
    for (const [method, path, body, status] of cases) {
      const res = await call(method, path, body);
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(status);
      expect(typeof res.body.error_description).toBe('string');
    }
    const many = Array.from({ length: 10_000 }, (_, i) => ({ name: `s${i}`, description: 'x' }));
    const huge = await call('POST', '/resources', { indicator: 'https://huge.example.com', name: 'Huge', scopes: many });
    expect([400, 413]).toContain(huge.status);
    const justOver = Array.from({ length: 101 }, (_, i) => ({ name: `s${i}`, description: 'x' }));
    expect((await call('POST', '/resources', { indicator: 'https://huge.example.com', name: 'Huge', scopes: justOver })).status).toBe(400);
    const audience = await call('POST', '/clients', {
      client_name: 'RS', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], resource_server_audiences: ['https://unknown.example.com'],
    });
    expect(audience).toMatchObject({ status: 400, body: { error: 'invalid_client_metadata' } });
    const registered = await call('POST', '/clients', {
      client_name: 'RS', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], resource_server_audiences: [ORDERS],
    });
    expect(registered.status).toBe(201);
  });

  it('registers an indicator once when two requests race for it', async () => {
    const body = { indicator: 'https://race.example.com', name: 'Race' };
    const results = await Promise.all([call('POST', '/resources', body), call('POST', '/resources', body)]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
    const roles = await Promise.all([call('POST', '/roles', { name: 'racer' }), call('POST', '/roles', { name: 'racer' })]);
    expect(roles.map((r) => r.status).sort()).toEqual([201, 409]);
  });

  it('loses no scope when two scope additions race', async () => {
    const created = await call('POST', '/resources', { indicator: 'https://scopes-race.example.com', name: 'Scopes' });
    const id = String(created.body.id);
    await Promise.all(['a', 'b', 'c', 'd'].map((name) => call('POST', `/resources/${id}/scopes`, { scopes: [{ name, description: name }] })));
    const names = ((await call('GET', `/resources/${id}`)).body.scopes as Array<{ name: string }>).map((s) => s.name).sort();
    expect(names).toEqual(['a', 'b', 'c', 'd']);
  });
});

