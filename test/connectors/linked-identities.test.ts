import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createUser } from '../support/relying-party.js';
import { UserAgent } from '../support/user-agent.js';
import { FederatedBrowser } from './flow.js';
import { withOidcConnector, type OidcSetup } from './setup.js';
import type { OidcUpstream } from './upstreams.js';

let setup: OidcSetup;

beforeAll(async () => {
  setup = await withOidcConnector();
});
afterAll(async () => setup?.close());

const identities = () => setup.server.accounts.model.db.collection('identities');

/** An app sign-in through Acme SSO; returns the account id. */
async function viaApp(user: OidcUpstream['user'], password?: string): Promise<string> {
  setup.upstream.user = user;
  const browser = new FederatedBrowser(setup.server.issuer, setup.rp);
  await browser.open();
  let outcome = await browser.back(await browser.toUpstream('Acme SSO'));
  if (password) outcome = await browser.submit(`/interaction/${browser.uid}/link`, { password });
  return String(outcome.tokens!.claims()!.sub);
}

/** The account center, signed in through Acme SSO in a fresh browser; returns its page and the browser. */
async function accountCenter(user: OidcUpstream['user']) {
  const { issuer } = setup.server;
  setup.upstream.user = user;
  const agent = new UserAgent();
  const login = await agent.follow(`${issuer}/account`, 'http://127.0.0.1:1/');
  const html = await login.res.text();
  const href = /href="([^"]+)"[^>]*>Continue with Acme SSO</.exec(html)![1]!;
  const start = await agent.request(new URL(href, issuer));
  const answer = await new UserAgent().follow(start.headers.get('location')!, issuer);
  const home = await agent.follow(answer.url, 'http://127.0.0.1:1/');
  return { agent, html: await home.res.text(), status: home.res.status };
}

function csrfOf(html: string): string {
  return /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
}

describe('linked identities in the admin API', () => {
  it('lists a user\'s identities and removes one: the upstream user then has to prove the account again', async () => {
    const local = await createUser(setup.server);
    await viaApp({ sub: 'admin-view-1', email: local.email, email_verified: true }, local.password);
    const listed = await setup.call('GET', `/users/${local.sub}/identities`);
    setup.contract.check('GET', '/users/{id}/identities', listed);
    const [identity] = listed.body.identities as Array<Record<string, unknown>>;
    expect(identity).toMatchObject({ connector_id: setup.connectorId, connector_name: 'Acme SSO', sub: 'admin-view-1', email: local.email });

    const removed = await setup.call('DELETE', `/users/${local.sub}/identities/${encodeURIComponent(String(identity!.id))}`);
    setup.contract.check('DELETE', '/users/{id}/identities/{identityId}', removed);
    expect(removed.status).toBe(200);
    expect(await identities().countDocuments({ sub: 'admin-view-1' })).toBe(0);
    expect(await setup.server.events.model.countDocuments({ accountId: local.sub, type: 'identity.unlinked' })).toBe(1);

    setup.upstream.user = { sub: 'admin-view-1', email: local.email, email_verified: true };
    const browser = new FederatedBrowser(setup.server.issuer, setup.rp);
    await browser.open();
    const { page } = await browser.back(await browser.toUpstream('Acme SSO'));
    expect(page!.html).toContain('Link your account');

    const again = await setup.call('DELETE', `/users/${local.sub}/identities/${encodeURIComponent(String(identity!.id))}`);
    expect(again.status).toBe(404);
    setup.contract.check('DELETE', '/users/{id}/identities/{identityId}', again);
  });

  it('deleting a user removes their identities, so the upstream user starts afresh', async () => {
    const sub = await viaApp({ sub: 'deleted-1', email: 'deleted@corp.test', email_verified: true });
    expect((await setup.call('DELETE', `/users/${sub}`)).status).toBe(200);
    expect(await identities().countDocuments({ sub: 'deleted-1' })).toBe(0);
    expect(await viaApp({ sub: 'deleted-1', email: 'deleted@corp.test', email_verified: true })).not.toBe(sub);
  });
});

describe('linked identities in the account center', () => {
  it('shows them, and unlinks one when the password remains a way in', async () => {
    const local = await createUser(setup.server);
    await viaApp({ sub: 'center-1', email: local.email, email_verified: true }, local.password);
    const { agent, html } = await accountCenter({ sub: 'center-1', email: local.email, email_verified: true });
    expect(html).toContain('Sign-in options');
    const identityId = /data-identity-id="([^"]+)"/.exec(html)![1]!;
    const res = await agent.request(`${setup.server.issuer}/account/identities/${encodeURIComponent(identityId)}/unlink`, { form: { _csrf: csrfOf(html) } });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/account?notice=identity-unlinked');
    expect(await identities().countDocuments({ sub: 'center-1' })).toBe(0);
  });

  it('refuses to unlink the only way in of an account the provider created', async () => {
    await viaApp({ sub: 'only-way-1', email: 'only@corp.test', email_verified: true });
    const { agent, html } = await accountCenter({ sub: 'only-way-1', email: 'only@corp.test', email_verified: true });
    const identityId = /data-identity-id="([^"]+)"/.exec(html)![1]!;
    const res = await agent.request(`${setup.server.issuer}/account/identities/${encodeURIComponent(identityId)}/unlink`, { form: { _csrf: csrfOf(html) } });
    expect(res.status).toBe(409);
    expect(await res.text()).toContain('only way to sign in');
    expect(await identities().countDocuments({ sub: 'only-way-1' })).toBe(1);
  });

  it('refuses an unlink without the page\'s CSRF token, and one of another user\'s identity', async () => {
    await viaApp({ sub: 'other-1', email: 'other@corp.test', email_verified: true });
    const otherId = `${setup.connectorId}:other-1`;
    const local = await createUser(setup.server);
    await viaApp({ sub: 'mine-1', email: local.email, email_verified: true }, local.password);
    const { agent, html } = await accountCenter({ sub: 'mine-1', email: local.email, email_verified: true });
    const forged = await agent.request(`${setup.server.issuer}/account/identities/${encodeURIComponent(otherId)}/unlink`, { form: { _csrf: 'nope' } });
    expect(forged.status).toBe(403);
    const foreign = await agent.request(`${setup.server.issuer}/account/identities/${encodeURIComponent(otherId)}/unlink`, { form: { _csrf: csrfOf(html) } });
    expect(foreign.status).toBe(404);
    expect(await identities().countDocuments({ sub: 'other-1' })).toBe(1);
  });
});
