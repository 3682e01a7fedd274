import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadKeySources } from '../../src/config/keys.js';
import { ConnectorCatalog, ConnectorInputError } from '../../src/connectors/catalog.js';
import { connectorCollections } from '../../src/connectors/records.js';
import { Upstreams } from '../../src/connectors/upstream.js';
import { KeySealer } from '../../src/keys/sealing.js';
import { adminToken, api, Contract } from '../admin/support.js';
import { openLoginForm, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { startOidcUpstream, type OidcUpstream } from './upstreams.js';

let server: TestServer;
let upstream: OidcUpstream;
let rp: RegisteredClient;
let token: string;
let contract: Contract;

const call = (method: string, path: string, body?: unknown) => api(server.issuer, token, method, path, body);
const oidcConnector = (extra: Record<string, unknown> = {}) => ({
  type: 'oidc', name: 'Acme SSO', issuer: upstream.issuer, client_id: upstream.clientId, client_secret: upstream.clientSecret, ...extra,
});
const loginPage = async () => {
  const { agent, uid } = await openLoginForm(rp);
  return (await agent.request(`${server.issuer}/interaction/${uid}`)).text();
};

beforeAll(async () => {
  upstream = await startOidcUpstream();
  server = await startServer({ env: { OUTBOUND_PRIVATE_NETWORKS: 'true' } });
  token = await adminToken(server.issuer);
  contract = await Contract.fetch(`${server.issuer}/admin/openapi.json`);
  rp = await registerClient(server);
});
afterAll(async () => {
  await server?.close();
  await upstream?.close();
});

describe('managing connectors', () => {
  it('creates one with a single call, names the redirect URI to register, and never returns or stores the secret in clear', async () => {
    const created = await call('POST', '/connectors', oidcConnector({ name: 'Secretive' }));
    expect(created.status).toBe(201);
    contract.check('POST', '/connectors', created);
    expect(created.body).toMatchObject({ type: 'oidc', name: 'Secretive', enabled: true, scopes: 'openid profile email', issuer: upstream.issuer });
    expect(created.body.redirect_uri).toBe(`${server.issuer}/connectors/${String(created.body.id)}/callback`);
    const id = String(created.body.id);
    for (const res of [created, await call('GET', `/connectors/${id}`), await call('GET', '/connectors')]) {
      expect(JSON.stringify(res.body)).not.toContain(upstream.clientSecret);
      expect(JSON.stringify(res.body)).not.toContain('sealed');
    }
    contract.check('GET', '/connectors/{id}', await call('GET', `/connectors/${id}`));
    contract.check('GET', '/connectors', await call('GET', '/connectors'));
    const stored = await server.accounts.model.db.collection('connectors').findOne({ name: 'Secretive' });
    expect(JSON.stringify(stored)).not.toContain(upstream.clientSecret);
    expect(String(stored!.sealed_secret).split('.')).toHaveLength(5);
  });

  it('shows an enabled connector on the login page, and hides it once disabled or removed', async () => {
    const created = await call('POST', '/connectors', oidcConnector({ name: 'Button Test' }));
    const id = String(created.body.id);
    expect(await loginPage()).toContain('Continue with Button Test');

    const disabled = await call('PATCH', `/connectors/${id}`, { enabled: false, name: 'Button Test 2' });
    expect(disabled.status).toBe(200);
    contract.check('PATCH', '/connectors/{id}', disabled);
    expect(disabled.body).toMatchObject({ enabled: false, name: 'Button Test 2' });
    expect(await loginPage()).not.toContain('Button Test');

    const removed = await call('DELETE', `/connectors/${id}`);
    contract.check('DELETE', '/connectors/{id}', removed);
    expect(removed.body).toEqual({ id, identities_removed: 0 });
    const gone = await call('GET', `/connectors/${id}`);
    expect(gone.status).toBe(404);
    contract.check('GET', '/connectors/{id}', gone);
  });

  it('keeps the stored secret when a change does not give one', async () => {
    const created = await call('POST', '/connectors', oidcConnector({ name: 'Keeps Secret' }));
    const id = String(created.body.id);
    const catalog = server.accounts.model.db.collection('connectors');
    const before = await catalog.findOne({ _id: id as never });
    await call('PATCH', `/connectors/${id}`, { logo_uri: 'http://127.0.0.1/logo.png' });
    const after = await catalog.findOne({ _id: id as never });
    expect(after!.logo_uri).toBe('http://127.0.0.1/logo.png');
    const sealer = new KeySealer((await loadKeySources(server.settings)).encryptionKey);
    expect((await sealer.unseal(`connector:${id}`, String(after!.sealed_secret))).k).toBe((await sealer.unseal(`connector:${id}`, String(before!.sealed_secret))).k);
    const unlogo = await call('PATCH', `/connectors/${id}`, { logo_uri: null });
    expect(unlogo.body.logo_uri).toBeUndefined();
  });
});

describe('bad connector input', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an unreachable issuer', { issuer: 'http://127.0.0.1:1' }, /^issuer: discovery failed/],
    ['an issuer that is not a URL', { issuer: 'acme' }, /^issuer: must be an absolute http\(s\) URL/],
    ['scopes without openid', { scopes: 'profile email' }, /^scopes: must include openid/],
    ['an unknown type', { type: 'saml' }, /^type:/],
    ['an unknown field', { extra: 1 }, /extra/],
    ['no client secret', { client_secret: undefined }, /^client_secret:/],
  ];
  for (const [what, change, message] of cases) {
    it(`answers 400 for ${what}`, async () => {
      const res = await call('POST', '/connectors', oidcConnector(change));
      expect(res.status).toBe(400);
      contract.check('POST', '/connectors', res);
      expect(res.body.error).toBe('invalid_request');
      expect(String(res.body.error_description)).toMatch(message);
    });
  }

  it('refuses a change to another type\'s field, and a connector id that does not exist', async () => {
    const created = await call('POST', '/connectors', oidcConnector({ name: 'Typed' }));
    const wrong = await call('PATCH', `/connectors/${String(created.body.id)}`, { claims: { sub: 'id' } });
    expect(wrong.status).toBe(400);
    contract.check('PATCH', '/connectors/{id}', wrong);
    expect((await call('PATCH', '/connectors/nope', { enabled: false })).status).toBe(404);
    expect((await call('DELETE', '/connectors/nope')).status).toBe(404);
  });

  it('cannot reach a loopback issuer unless OUTBOUND_PRIVATE_NETWORKS allows it (the SSRF guard of outbound requests)', async () => {
    const guarded = await startServer();
    try {
      const res = await api(guarded.issuer, await adminToken(guarded.issuer), 'POST', '/connectors', oidcConnector());
      expect(res.status).toBe(400);
      expect(String(res.body.error_description)).toMatch(/^issuer: discovery failed/);
    } finally {
      await guarded.close();
    }
  });

  it('refuses a plain-http issuer or endpoint in production', async () => {
    const key = randomBytes(32);
    const catalog = new ConnectorCatalog(
      connectorCollections(server.accounts.model.db), new KeySealer(key), new Upstreams('https://id.example.com', false, (url, options) => fetch(url, options as RequestInit)), true,
    );
    const common = { name: 'Prod', enabled: true, client_id: 'x', client_secret: 'y' };
    await expect(catalog.create({ ...common, type: 'oidc', issuer: 'http://idp.example.com', scopes: 'openid' }))
      .rejects.toThrow(new ConnectorInputError('issuer', 'must be https in production'));
    await expect(catalog.create({
      ...common, type: 'oauth2', scopes: '', claims: { sub: 'id' },
      authorization_endpoint: 'https://gh.example.com/authorize', token_endpoint: 'http://gh.example.com/token', userinfo_endpoint: 'https://gh.example.com/user',
    })).rejects.toThrow(/must be https in production/);
  });
});
