import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { adminToken, api } from '../admin/support.js';
import { createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { UserAgent } from '../support/user-agent.js';
import { appCode, signInThroughSteps } from '../support/two-step.js';
import { FederatedBrowser } from './flow.js';
import { withOidcConnector, type OidcSetup } from './setup.js';
import { startOidcUpstream, type OidcUpstream } from './upstreams.js';

let setup: OidcSetup;
let server: TestServer;
let upstream: OidcUpstream;
let rp: RegisteredClient;
let connectorId: string;

const call = (method: string, path: string, body?: unknown) => setup.call(method, path, body);
const identities = () => server.accounts.model.db.collection('identities');

beforeAll(async () => {
  setup = await withOidcConnector();
  ({ server, upstream, rp, connectorId } = setup);
});
afterAll(async () => setup?.close());

async function signIn(user: OidcUpstream['user'], browser = new FederatedBrowser(server.issuer, rp)) {
  upstream.user = user;
  await browser.open();
  const answer = await browser.toUpstream('Acme SSO');
  return { browser, answer, ...(await browser.back(answer)) };
}

describe('signing in through an OpenID Connect provider', () => {
  it('creates an account for a new upstream user, and the ID token says how (amr fed) and through whom (idp)', async () => {
    const { tokens, page } = await signIn({ sub: 'jit-1', email: 'Newbie@Corp.test', email_verified: true, name: 'New Bie', preferred_username: 'newbie' });
    expect(page, page?.html.slice(0, 500)).toBeUndefined();
    const claims = tokens!.claims()!;
    expect(claims).toMatchObject({ amr: ['fed'], idp: 'Acme SSO', email: 'newbie@corp.test', email_verified: true, name: 'New Bie', preferred_username: 'newbie' });
    const account = await server.accounts.model.findById(claims.sub).lean();
    expect(account).toMatchObject({ username: 'newbie', email: 'newbie@corp.test', emailVerified: true });
    expect(await identities().findOne({ connector_id: connectorId, sub: 'jit-1' })).toMatchObject({ account_id: claims.sub });
    const events = await server.events.model.find({ accountId: claims.sub }).lean();
    expect(events.map((event) => event.type)).toEqual(expect.arrayContaining(['upstream.signed_in', 'user.signed_up']));
    expect(events.find((event) => event.type === 'upstream.signed_in')!.detail).toMatchObject({ connector: 'Acme SSO', created: true });
    expect(JSON.stringify(events)).not.toMatch(/access_token|id_token|eyJ/);
  });

  it('two first sign-ins of one upstream user at once make one account', async () => {
    // No email: the unique email index cannot be what stops a second account.
    upstream.user = { sub: 'race-1', preferred_username: 'racer' };
    const browsers = [new FederatedBrowser(server.issuer, rp), new FederatedBrowser(server.issuer, rp), new FederatedBrowser(server.issuer, rp)];
    const answers = await Promise.all(browsers.map(async (browser) => {
      await browser.open();
      return browser.toUpstream('Acme SSO');
    }));
    const outcomes = await Promise.all(browsers.map((browser, i) => browser.back(answers[i]!)));
    const subs = new Set(outcomes.map((outcome) => outcome.tokens?.claims()?.sub ?? outcome.page?.html.slice(0, 80)));
    expect(await server.accounts.model.countDocuments({ username: { $regex: '^racer' } })).toBe(1);
    expect(await identities().countDocuments({ sub: 'race-1' })).toBe(1);
    const account = await server.accounts.model.findOne({ username: { $regex: '^racer' } }).lean();
    // Each browser ends in that account, or (while it was being created) on a page asking to try again.
    for (const outcome of outcomes) {
      if (outcome.tokens) expect(outcome.tokens.claims()!.sub).toBe(account!._id);
      else expect(outcome.page!.html).toContain('try again');
    }
    expect(subs.has(account!._id)).toBe(true);
  });

  it('signs a returning upstream user in to the same account, whatever their upstream email is now', async () => {
    const first = await signIn({ sub: 'back-1', email: 'back@corp.test', email_verified: true, preferred_username: 'back' });
    const again = await signIn({ sub: 'back-1', email: 'elsewhere@corp.test', email_verified: true, preferred_username: 'back' });
    expect(again.tokens!.claims()!.sub).toBe(first.tokens!.claims()!.sub);
    expect(await server.accounts.model.countDocuments({ username: { $regex: '^back' } })).toBe(1);
  });

  it('marks the email verified only when the upstream says so, and makes a taken username unique', async () => {
    const { tokens } = await signIn({ sub: 'unverified-1', email: 'maybe@corp.test', email_verified: false, preferred_username: 'newbie' });
    const account = await server.accounts.model.findById(tokens!.claims()!.sub).lean();
    expect(account).toMatchObject({ email: 'maybe@corp.test', emailVerified: false });
    expect(account!.username).toMatch(/^newbie-[0-9a-f]{6}$/);
  });

  it('an app that demands a second step asks for it after a provider sign-in too', async () => {
    const strict = await registerClient(server, { require_mfa: true } as Record<string, unknown>);
    const { page, tokens } = await signIn({ sub: 'strict-1', email: 'strict@corp.test', email_verified: true }, new FederatedBrowser(server.issuer, strict));
    expect(tokens).toBeUndefined();
    expect(page!.html).toContain('Set up two-step verification');
  });

  it('a password sign-in keeps amr pwd and no idp', async () => {
    const { codeFlow } = await import('../support/relying-party.js');
    const user = await createUser(server);
    const { tokens } = await codeFlow(rp, { login: user });
    expect(tokens.claims()).toMatchObject({ amr: ['pwd'] });
    expect(tokens.claims()!.idp).toBeUndefined();
  });
});

describe('an upstream email that is already an account here', () => {
  it('is never linked silently: the account password is required, and a wrong one links nothing', async () => {
    const local = await createUser(server);
    const { page, browser } = await signIn({ sub: 'collide-1', email: local.email.toUpperCase(), email_verified: true });
    expect(page!.status).toBe(200);
    expect(page!.html).toContain('Link your account');
    expect(page!.html).not.toContain('name="login"');

    const wrong = await browser.submit(`/interaction/${browser.uid}/link`, { password: 'not-the-password' });
    expect(wrong.page!.status).toBe(401);
    expect(wrong.page!.html).toContain('not the password');
    expect(await identities().countDocuments({ sub: 'collide-1' })).toBe(0);

    const right = await browser.submit(`/interaction/${browser.uid}/link`, { password: local.password });
    expect(right.tokens!.claims()).toMatchObject({ sub: local.sub, amr: ['fed'], idp: 'Acme SSO' });
    expect(await server.events.model.countDocuments({ accountId: local.sub, type: 'identity.linked' })).toBe(1);

    // Linked now: the next sign-in goes straight in.
    const next = await signIn({ sub: 'collide-1', email: local.email, email_verified: true });
    expect(next.tokens!.claims()!.sub).toBe(local.sub);
  });

  it('an account with two-step verification is linked only with its password and its second step', async () => {
    const local = await createUser(server);
    const strict = await registerClient(server, { require_mfa: true } as Record<string, unknown>);
    let secret = '';
    await signInThroughSteps(strict, local, { enrol: (shown) => { secret = shown; return appCode(shown); } });
    const { page, browser } = await signIn({ sub: 'two-step-1', email: local.email, email_verified: true });
    expect(page!.html).toContain('Code from your authenticator app');
    const link = `/interaction/${browser.uid}/link`;

    const passwordOnly = await browser.submit(link, { password: local.password });
    expect(passwordOnly.page!.status).toBe(401);
    const wrongCode = await browser.submit(link, { password: local.password, code: '000000' });
    expect(wrongCode.page!.status).toBe(401);
    expect(wrongCode.page!.html).toContain('That code is not right');
    const wrongPassword = await browser.submit(link, { password: 'not-it', code: appCode(secret, 1) });
    expect(wrongPassword.page!.status).toBe(401);
    expect(await identities().countDocuments({ sub: 'two-step-1' })).toBe(0);

    const both = await browser.submit(link, { password: local.password, code: appCode(secret, 1) });
    expect(both.tokens!.claims()).toMatchObject({ sub: local.sub, amr: ['fed'], idp: 'Acme SSO' });
    expect(await identities().countDocuments({ sub: 'two-step-1' })).toBe(1);
  });

  it('starting over instead of typing the password leaves the account unlinked', async () => {
    const local = await createUser(server);
    const { page } = await signIn({ sub: 'collide-2', email: local.email, email_verified: true });
    expect(page!.html).toContain(`href="/interaction/`);
    expect(await identities().countDocuments({ sub: 'collide-2' })).toBe(0);
    expect(await server.accounts.model.countDocuments({ email: local.email })).toBe(1);
  });
});

describe('refused answers', () => {
  it('refuses a replayed answer and one with a state it never issued', async () => {
    const { answer, browser } = await signIn({ sub: 'replay-1', email: 'replay@corp.test', email_verified: true });
    const replayed = await browser.agent.follow(answer, rp.redirectUri);
    expect(replayed.res.status).toBe(400);
    expect(await replayed.res.text()).toContain('expired or was already completed');

    const forged = new URL(answer);
    forged.searchParams.set('state', 'forged');
    const res = await new UserAgent().request(forged);
    expect(res.status).toBe(400);
  });

  it("refuses another provider's answer delivered for this one (mix-up), with a way back to the sign-in", async () => {
    const other = await startOidcUpstream();
    try {
      const created = await call('POST', '/connectors', {
        type: 'oidc', name: 'Other IdP', issuer: other.issuer, client_id: other.clientId, client_secret: other.clientSecret,
      });
      await other.allowRedirect(String(created.body.redirect_uri));
      other.user = { sub: 'victim', email: 'victim@other.test', email_verified: true };
      const attacker = new FederatedBrowser(server.issuer, rp);
      await attacker.open();
      const otherAnswer = new URL(await attacker.toUpstream('Other IdP'));

      const victim = new FederatedBrowser(server.issuer, rp);
      await victim.open();
      const acmeRequest = await victim.start('Acme SSO');
      const mixed = new URL(`${server.issuer}/connectors/${connectorId}/callback`);
      mixed.search = new URLSearchParams({
        code: otherAnswer.searchParams.get('code')!, state: acmeRequest.searchParams.get('state')!, iss: otherAnswer.searchParams.get('iss') ?? other.issuer,
      }).toString();
      const { page } = await victim.back(mixed.href);
      expect(page!.status).toBe(400);
      expect(page!.html).toContain('failed a check');
      expect(page!.html).toContain('Back to sign in');
      expect(page!.html).toContain(`/interaction/${victim.uid}`);
      expect(await identities().countDocuments({ sub: 'victim' })).toBe(0);
    } finally {
      await other.close();
    }
  });

  it('refuses an ID token issued by another issuer than the connector names', async () => {
    const real = await startOidcUpstream();
    // An impostor names itself the issuer in its discovery, but its endpoints are the real provider's.
    const impostor = createServer((req, res) => {
      void fetch(`${real.issuer}/.well-known/openid-configuration`).then(async (answer) => {
        const metadata = await answer.json() as Record<string, unknown>;
        const { port } = impostor.address() as AddressInfo;
        res.writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ ...metadata, issuer: `http://127.0.0.1:${port}`, authorization_response_iss_parameter_supported: false }));
      });
    });
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = impostor.address() as AddressInfo;
      const created = await call('POST', '/connectors', {
        type: 'oidc', name: 'Impostor', issuer: `http://127.0.0.1:${port}`, client_id: real.clientId, client_secret: real.clientSecret,
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      await real.allowRedirect(String(created.body.redirect_uri));
      real.user = { sub: 'impostor-1', email: 'impostor@real.test', email_verified: true };
      const browser = new FederatedBrowser(server.issuer, rp);
      await browser.open();
      const answer = new URL(await browser.toUpstream('Impostor'));
      answer.searchParams.delete('iss');
      const { page } = await browser.back(answer.href);
      expect(page!.status).toBe(400);
      expect(page!.html).toMatch(/failed a check: unexpected JWT &#34;iss&#34; \(issuer\) claim value/);
      expect(await identities().countDocuments({ sub: 'impostor-1' })).toBe(0);
    } finally {
      impostor.closeAllConnections();
      await new Promise((resolve) => impostor.close(resolve));
      await real.close();
    }
  });

  it('ends a sign-in the user denied upstream on a page with a way back', async () => {
    const browser = new FederatedBrowser(server.issuer, rp);
    await browser.open();
    const request = await browser.start('Acme SSO');
    const denied = new URL(`${server.issuer}/connectors/${connectorId}/callback`);
    denied.search = new URLSearchParams({ error: 'access_denied', state: request.searchParams.get('state')!, iss: upstream.issuer }).toString();
    const { page } = await browser.back(denied.href);
    expect(page!.status).toBe(400);
    expect(page!.html).toContain('cancelled');
    expect(page!.html).toContain(`href="/interaction/${browser.uid}"`);
  });

  it('refuses an answer for an interaction in another browser', async () => {
    const browser = new FederatedBrowser(server.issuer, rp);
    await browser.open();
    const request = await browser.start('Acme SSO');
    upstream.user = { sub: 'stolen-1', email: 'stolen@corp.test', email_verified: true };
    const step = await new UserAgent().follow(request, server.issuer);
    // The answer reaches someone else's browser: no interaction cookie, no sign-in.
    const elsewhere = await new UserAgent().follow(step.url, rp.redirectUri);
    expect(elsewhere.res.status).toBe(400);
    expect(await elsewhere.res.text()).toContain('interaction session');
    expect(await identities().countDocuments({ sub: 'stolen-1' })).toBe(0);
  });
});

describe('accounts that may not sign in', () => {
  it('a disabled account cannot come back through its connector', async () => {
    const { tokens } = await signIn({ sub: 'disabled-1', email: 'gone@corp.test', email_verified: true });
    const sub = tokens!.claims()!.sub;
    expect((await call('PATCH', `/users/${sub}`, { disabled: true })).status).toBe(200);
    const { page } = await signIn({ sub: 'disabled-1', email: 'gone@corp.test', email_verified: true });
    expect(page!.status).toBe(403);
    expect(page!.html).toContain('disabled');
  });

  it('revoking the user ends a session started through a connector, as it ends a password one', async () => {
    const browser = new FederatedBrowser(server.issuer, rp);
    const { tokens } = await signIn({ sub: 'revoked-1', email: 'revoked@corp.test', email_verified: true }, browser);
    // Still signed in: the app gets its answer without a sign-in page.
    expect((await browser.open()).url.startsWith(rp.redirectUri)).toBe(true);
    expect((await call('POST', `/users/${tokens!.claims()!.sub}/revoke`, {})).status).toBe(200);
    const after = await browser.open();
    expect(after.html).toContain('name="password"');
    expect(after.html).toContain('Continue with Acme SSO');
  });

  it('with REGISTRATION=closed, a new upstream user is refused with a clear message', async () => {
    const closed = await startServer({ env: { OUTBOUND_PRIVATE_NETWORKS: 'true', REGISTRATION: 'closed' } });
    try {
      const adminCall = async (body: unknown) => api(closed.issuer, await adminToken(closed.issuer), 'POST', '/connectors', body);
      const created = await adminCall({ type: 'oidc', name: 'Acme SSO', issuer: upstream.issuer, client_id: upstream.clientId, client_secret: upstream.clientSecret });
      await upstream.allowRedirect(String(created.body.redirect_uri));
      const app = await registerClient(closed);
      const { page } = await signIn({ sub: 'closed-1', email: 'closed@corp.test', email_verified: true }, new FederatedBrowser(closed.issuer, app));
      expect(page!.status).toBe(403);
      expect(page!.html).toContain('new accounts cannot be created');
      expect(await closed.accounts.model.countDocuments({ email: 'closed@corp.test' })).toBe(0);
    } finally {
      await closed.close();
    }
  });
});
