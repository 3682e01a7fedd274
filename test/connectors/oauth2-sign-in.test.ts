import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { adminToken, api, Contract } from '../admin/support.js';
import { createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { FederatedBrowser } from './flow.js';
import { startOAuth2Upstream, type OAuth2Upstream } from './upstreams.js';

let server: TestServer;
let github: OAuth2Upstream;
let rp: RegisteredClient;
let token: string;

const identities = () => server.accounts.model.db.collection('identities');

beforeAll(async () => {
  github = await startOAuth2Upstream();
  server = await startServer({ env: { OUTBOUND_PRIVATE_NETWORKS: 'true' } });
  token = await adminToken(server.issuer);
  rp = await registerClient(server);
  const created = await api(server.issuer, token, 'POST', '/connectors', {
    type: 'oauth2', name: 'GitHub', client_id: github.clientId, client_secret: github.clientSecret, scopes: 'read:user user:email',
    authorization_endpoint: `${github.base}/login/oauth/authorize`, token_endpoint: `${github.base}/login/oauth/access_token`, userinfo_endpoint: `${github.base}/user`,
    claims: { sub: 'id', email: 'email', name: 'name', preferred_username: 'login' },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  (await Contract.fetch(`${server.issuer}/admin/openapi.json`)).check('POST', '/connectors', created);
});
afterAll(async () => {
  await server?.close();
  await github?.close();
});

async function signIn(user: OAuth2Upstream['user']) {
  github.user = user;
  const browser = new FederatedBrowser(server.issuer, rp);
  await browser.open();
  return { browser, ...(await browser.back(await browser.toUpstream('GitHub'))) };
}

describe('signing in through a GitHub-style OAuth 2.0 provider', () => {
  it('maps the userinfo answer by its paths: a numeric id is the identity, the login the username, the email unverified', async () => {
    const { tokens, page } = await signIn({ id: 4242, login: 'octo', name: 'Octo Cat', email: 'Octo@GH.test' });
    expect(page, page?.html.slice(0, 400)).toBeUndefined();
    const claims = tokens!.claims()!;
    expect(claims).toMatchObject({ amr: ['fed'], idp: 'GitHub', preferred_username: 'octo', name: 'Octo Cat', email: 'octo@gh.test', email_verified: false });
    expect(await identities().findOne({ sub: '4242' })).toMatchObject({ account_id: claims.sub });
  });

  it('signs the same upstream id in to the same account after a rename there', async () => {
    const first = await signIn({ id: 777, login: 'before', email: null });
    const again = await signIn({ id: 777, login: 'after', email: null });
    expect(again.tokens!.claims()!.sub).toBe(first.tokens!.claims()!.sub);
    expect(again.tokens!.claims()!.email).toBeUndefined();
  });

  it('asks for the local password before linking an account with the same email', async () => {
    const local = await createUser(server);
    const { page, browser } = await signIn({ id: 9001, login: 'lookalike', email: local.email });
    expect(page!.html).toContain('Link your account');
    const linked = await browser.submit(`/interaction/${browser.uid}/link`, { password: local.password });
    expect(linked.tokens!.claims()).toMatchObject({ sub: local.sub, idp: 'GitHub' });
  });

  it('refuses a profile without the id path with a clear page', async () => {
    const { page } = await signIn({ login: 'no-id', email: null } as unknown as OAuth2Upstream['user']);
    expect(page!.status).toBe(400);
    expect(page!.html).toContain('has no user id at &#34;id&#34;');
  });
});
