import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { MFA_ACR } from '../../src/mfa/acr.js';
import { adminToken, api, basic, Contract } from '../admin/support.js';
import { createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { appCode, signInThroughSteps } from '../support/two-step.js';

let server: TestServer;
let strictApp: RegisteredClient;
let app: RegisteredClient;
let admin: string;
let contract: Contract;

beforeAll(async () => {
  server = await startServer();
  strictApp = await registerClient(server, { require_mfa: true } as Record<string, unknown>);
  app = await registerClient(server);
  admin = await adminToken(server.issuer);
  contract = await Contract.fetch(`${server.issuer}/admin/openapi.json`);
});
afterAll(async () => {
  await server?.close();
});

describe('operators and two-step verification', () => {
  it('shows which kinds of second step a user has, never a secret', async () => {
    const user = await createUser(server);
    const before = await api(server.issuer, admin, 'GET', `/users/${user.sub}`);
    contract.check('GET', '/users/{id}', before);
    expect(before.body.two_step).toEqual([]);
    let secret = '';
    await signInThroughSteps(strictApp, user, { enrol: (shown) => { secret = shown; return appCode(shown); } });
    const after = await api(server.issuer, admin, 'GET', `/users/${user.sub}`);
    contract.check('GET', '/users/{id}', after);
    expect(after.body.two_step).toEqual(['totp', 'recovery_codes']);
    expect(JSON.stringify(after.body)).not.toContain(secret.replace(/\s/g, '').slice(0, 8));
  });

  it('removes every second step of a user who lost them, and signs them out everywhere', async () => {
    const user = await createUser(server);
    const { tokens } = await signInThroughSteps(strictApp, user, { enrol: (shown) => appCode(shown) }, { scope: 'openid offline_access', prompt: 'consent' });
    expect(tokens!.refresh_token).toBeTruthy();
    const reset = await api(server.issuer, admin, 'DELETE', `/users/${user.sub}/mfa`);
    contract.check('DELETE', '/users/{id}/mfa', reset);
    expect(reset.body).toMatchObject({ id: user.sub, factors_removed: true });
    // The refresh token dies with the cut-off; the next sign-in to an app without a demand asks for the password only.
    const refreshed = await fetch(`${server.issuer}/token`, {
      method: 'POST', headers: { authorization: basic(strictApp.clientId, strictApp.clientSecret!), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens!.refresh_token! }),
    });
    expect(refreshed.status).toBe(400);
    expect((await signInThroughSteps(app, user, {})).walk.pages).toEqual(['login', 'consent']);
    const events = await server.events.model.find({ accountId: user.sub, type: 'user.mfa_reset' }).lean();
    expect(events).toHaveLength(1);
    expect(events[0]!.detail?.actor).toBe('admin');
    expect((await api(server.issuer, admin, 'DELETE', '/users/no-such-user/mfa')).status).toBe(404);
  });

  it('reports acr and amr at introspection', async () => {
    const user = await createUser(server);
    const rs = await registerClient(server, {
      grant_types: ['client_credentials'], redirect_uris: [], response_types: [], resource_server_audiences: [server.settings.apiAudience],
    });
    const { tokens } = await signInThroughSteps(strictApp, user, { enrol: (shown) => appCode(shown) }, { scope: 'openid api:read', resource: server.settings.apiAudience });
    const res = await fetch(`${server.issuer}/token/introspection`, {
      method: 'POST', headers: { authorization: basic(rs.clientId, rs.clientSecret!), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens!.access_token }),
    });
    expect(await res.json()).toMatchObject({ active: true, acr: MFA_ACR, amr: ['pwd', 'otp', 'mfa'] });
  });
});
