import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { eventsOf, INVALID_GRANT, offlineTokens, postToken, refresh, refreshed, userinfoWorks, type RefreshOutcome } from '../support/refresh.js';
import { createUser, registerClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';

type User = Awaited<ReturnType<typeof createUser>>;

/** A token value of the right shape that the server never issued. */
const UNKNOWN_TOKEN = 'qBxXDGc4Z7ceUoTtwXbq-2YoP1b6vY6bSYwc9hKzQ1r';

/** Attacks on reuse detection: a replayed refresh token must end its family whatever the
 * request carries, answer exactly as an unknown token does, and the retry grace period
 * must never hand the family to a second holder. */
let server: TestServer;
let user: User;

beforeAll(async () => {
  server = await startServer();
  user = await createUser(server);
});
afterAll(async () => { await server?.close(); });

/** A family one rotation old: `first` is consumed, `second` is the live token. */
async function rotatedFamily(metadata: Parameters<typeof registerClient>[1] = {}) {
  const rp = await registerClient(server, { scope: 'openid offline_access', ...metadata });
  const { refreshToken: first } = await offlineTokens(rp, user);
  const second = await refreshed(rp.config, first);
  return { rp, first, second };
}

describe('a consumed refresh token presented again', () => {
  const variants: Array<[string, (server: TestServer) => Record<string, string>]> = [
    ['a scope the token does not cover', () => ({ scope: 'openid email' })],
    ['a narrower scope', () => ({ scope: 'openid' })],
    ['a resource indicator for the API', (s) => ({ resource: s.settings.apiAudience })],
    ['a resource indicator for an unknown API', () => ({ resource: 'https://elsewhere.example/api' })],
    ['an unknown extra parameter', () => ({ foo: 'bar' })],
    ['scope, resource and an extra parameter together', (s) => ({ scope: 'openid email profile', resource: s.settings.apiAudience, foo: 'bar' })],
  ];

  it.each(variants)('with %s revokes the family and answers exactly like an unknown token', async (_name, extra) => {
    const { rp, first, second } = await rotatedFamily();
    const params = extra(server);
    const unknown = await postToken(server.issuer, rp, { grant_type: 'refresh_token', refresh_token: UNKNOWN_TOKEN, ...params });
    const replay = await postToken(server.issuer, rp, { grant_type: 'refresh_token', refresh_token: first, ...params });
    expect(replay).toEqual(unknown);
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await refresh(rp.config, second)).toEqual(INVALID_GRANT);
    const [reuse] = await eventsOf(server.events.model, rp.clientId, 'refresh_token.reuse_detected');
    expect(reuse).toMatchObject({ accountId: user.sub, grantId: expect.any(String) });
    const [revoked] = await eventsOf(server.events.model, rp.clientId, 'refresh_token.family_revoked');
    expect(revoked).toMatchObject({ grantId: reuse!.grantId, detail: { reason: 'reuse' } });
  });

  it('answers requests refused before any token is read the same for a consumed and an unknown token', async () => {
    // A grant_type in other case, a scope with forbidden characters:
    // oidc-provider refuses these before looking at the token, so they cannot tell tokens apart.
    const { rp, first } = await rotatedFamily();
    const malformed: Array<Record<string, string>> = [
      { grant_type: 'REFRESH_TOKEN' },
      { grant_type: 'refresh_token', scope: 'openid "email"' },
    ];
    for (const form of malformed) {
      const unknown = await postToken(server.issuer, rp, { ...form, refresh_token: UNKNOWN_TOKEN });
      const replay = await postToken(server.issuer, rp, { ...form, refresh_token: first });
      expect(replay).toEqual(unknown);
      expect(replay.status).toBe(400);
    }
  });

  it("does not let another client use or end someone else's family", async () => {
    const { rp, first, second } = await rotatedFamily();
    const other = await registerClient(server, { scope: 'openid offline_access' });
    const unknown = await postToken(server.issuer, other, { grant_type: 'refresh_token', refresh_token: UNKNOWN_TOKEN, scope: 'openid email' });
    for (const token of [first, second]) {
      expect(await postToken(server.issuer, other, { grant_type: 'refresh_token', refresh_token: token, scope: 'openid email' })).toEqual(unknown);
    }
    expect(await refresh(rp.config, second)).toMatchObject({ ok: true });
    expect(await eventsOf(server.events.model, rp.clientId, 'refresh_token.reuse_detected', 0)).toHaveLength(0);
  });

  it('revokes the family when replays with extra parameters race a legitimate refresh', async () => {
    const { rp, first, second } = await rotatedFamily();
    const replays = Array.from({ length: 10 }, (_, i) =>
      refresh(rp.config, first, i % 2 ? { scope: 'openid email' } : { resource: server.settings.apiAudience }));
    const [legit, ...outcomes] = await Promise.all([refresh(rp.config, second), ...replays]);
    expect(outcomes).toEqual(Array(10).fill(INVALID_GRANT));
    // Whether the legitimate refresh finished before the revocation or not, nothing lives on.
    if (legit!.ok) expect(await refresh(rp.config, legit!.refreshToken)).toEqual(INVALID_GRANT);
    else expect(legit).toEqual(INVALID_GRANT);
    expect(await refresh(rp.config, second)).toEqual(INVALID_GRANT);
  });
});

describe('the retry grace period against a second holder', () => {
  const GRACE = { refresh_token_grace_period: 60 };
  const graceClient = () => registerClient(server, { scope: 'openid offline_access', ...GRACE });

  async function grantOf(token: string): Promise<string | undefined> {
    return (await server.store.collection('RefreshToken').findOne({ _id: token }))?.grantId;
  }

  it("ends a thief's retry chain, and the family, when the legitimate holder refreshes", async () => {
    const { rp, first, second } = await rotatedFamily(GRACE);
    // The thief replays the stolen previous token inside the window and is served…
    const stolen = await refresh(rp.config, first);
    if (!stolen.ok) throw new Error(`the grace retry was refused: ${stolen.error}`);
    const thiefNext = await refresh(rp.config, stolen.refreshToken);
    if (!thiefNext.ok) throw new Error(`the thief's chain did not continue: ${thiefNext.error}`);
    // …until the legitimate holder's next refresh shows there were two holders.
    expect(await refresh(rp.config, second)).toEqual(INVALID_GRANT);
    expect(await refresh(rp.config, thiefNext.refreshToken)).toEqual(INVALID_GRANT);
    expect(await userinfoWorks(rp.config, thiefNext.accessToken, user.sub)).toBe(false);

    expect(await eventsOf(server.events.model, rp.clientId, 'refresh_token.grace_retry')).toHaveLength(1);
    const [reuse] = await eventsOf(server.events.model, rp.clientId, 'refresh_token.reuse_detected');
    expect(reuse).toMatchObject({ accountId: user.sub, detail: { superseded: true } });
    const [revoked] = await eventsOf(server.events.model, rp.clientId, 'refresh_token.family_revoked');
    expect(revoked).toMatchObject({ grantId: reuse!.grantId, detail: { reason: 'reuse' } });
  });

  it('ends the family when the thief refreshes first and the legitimate holder retries inside the window', async () => {
    const { rp, first, second: thiefs } = await rotatedFamily(GRACE);
    const legit = await refresh(rp.config, first);
    if (!legit.ok) throw new Error(`the legitimate retry was refused: ${legit.error}`);
    expect(await refresh(rp.config, thiefs)).toEqual(INVALID_GRANT);
    expect(await refresh(rp.config, legit.refreshToken)).toEqual(INVALID_GRANT);
  });

  it('leaves another refresh chain of the same grant alone when one chain retries', async () => {
    const rp = await graceClient();
    const chainA = await offlineTokens(rp, user);
    const chainB = await offlineTokens(rp, user, chainA.agent);
    expect(await grantOf(chainB.refreshToken)).toBe(await grantOf(chainA.refreshToken));

    await refreshed(rp.config, chainA.refreshToken);
    const b2 = await refreshed(rp.config, chainB.refreshToken);
    const a2retried = await refreshed(rp.config, chainA.refreshToken);
    expect(await refresh(rp.config, b2)).toMatchObject({ ok: true });
    expect(await refresh(rp.config, a2retried)).toMatchObject({ ok: true });
  });

  it('lets a retry succeed for one chain while the other chain has rotated further', async () => {
    const rp = await graceClient();
    const chainA = await offlineTokens(rp, user);
    const chainB = await offlineTokens(rp, user, chainA.agent);
    const b3 = await refreshed(rp.config, await refreshed(rp.config, chainB.refreshToken));
    await refreshed(rp.config, chainA.refreshToken);
    expect(await refresh(rp.config, chainA.refreshToken)).toMatchObject({ ok: true });
    expect(await refresh(rp.config, b3)).toMatchObject({ ok: true });
  });

  it('never leaves two live chains when retries race the successor being used', async () => {
    for (let round = 0; round < 4; round += 1) {
      const { rp, first, second } = await rotatedFamily(GRACE);
      const outcomes = await Promise.all([
        refresh(rp.config, second),
        ...Array.from({ length: 5 }, () => refresh(rp.config, first)),
      ]);
      const issued = outcomes.filter((o): o is Extract<RefreshOutcome, { ok: true }> => o.ok);
      expect(issued.length).toBeLessThanOrEqual(1);
      expect(outcomes.filter((o) => !o.ok)).toEqual(Array(outcomes.length - issued.length).fill(INVALID_GRANT));
      for (const token of [first, second, ...issued.map((o) => o.refreshToken)]) {
        expect(await refresh(rp.config, token)).toEqual(INVALID_GRANT);
      }
    }
  });
});
