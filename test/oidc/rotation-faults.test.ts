import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { exchange, grantOf, liveRefreshTokens, offlineCode } from '../support/chains.js';
import { eventsOf, INVALID_GRANT, offlineTokens, postToken, refresh, refreshed } from '../support/refresh.js';
import { createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { freshDatabaseUri, startServer, type TestServer } from '../support/server.js';
import { TcpProxy, type CommandMatch, type ReplyFault } from '../support/tcp-proxy.js';

/**
 * A refresh or code exchange that fails anywhere must leave the client able to retry with
 * what it holds. The database sits behind a proxy that slows or loses the reply to one
 * chosen command while the command itself is applied: the server then answers 503 for a
 * write that happened, the case that used to turn the retry into "reuse".
 */
let proxy: TcpProxy;
let server: TestServer;
let user: Awaited<ReturnType<typeof createUser>>;

beforeAll(async () => {
  const direct = freshDatabaseUri('rotation_faults');
  proxy = await TcpProxy.start(direct);
  server = await startServer({ mongoUri: proxy.rewrite(direct) });
  user = await createUser(server);
});
afterAll(async () => {
  await server?.close();
  await proxy?.close();
});
afterEach(async () => {
  await proxy.set('forward');
  const unused = proxy.pendingFaults;
  proxy.clearFaults();
  expect(unused).toBe(0);
});

/** A refresh whose answer may be a 503 (openid-client throws on those): status and error. */
async function attempt(rp: RegisteredClient, refreshToken: string): Promise<{ status: number; error?: string }> {
  const { status, body } = await postToken(server.issuer, rp, { grant_type: 'refresh_token', refresh_token: refreshToken });
  return { status, error: (body as { error?: string }).error };
}
const UNAVAILABLE = { status: 503, error: 'temporarily_unavailable' };

/** Past the driver's per-call timeout and the request's budget alike. */
const LATE: ReplyFault = { delayMs: 1_500 };
const on = (command: string, collection: string, nth?: number): CommandMatch => ({ command, collection, nth });

const offlineClient = () => registerClient(server, { scope: 'openid offline_access' });

async function expectNoReuse(rp: RegisteredClient): Promise<void> {
  expect(await eventsOf(server.events.model, rp.clientId, 'refresh_token.reuse_detected', 0)).toHaveLength(0);
  expect(await eventsOf(server.events.model, rp.clientId, 'refresh_token.family_revoked', 0)).toHaveLength(0);
}

describe('a refresh that answered an error', () => {
  const faults: Array<[string, CommandMatch, ReplyFault]> = [
    ["the successor's save answered after the deadline", on('insert', 'oidc_refresh_token'), LATE],
    ["the successor's save was applied but its answer lost", on('insert', 'oidc_refresh_token'), 'drop'],
    ['the token read answered after the deadline', on('find', 'oidc_refresh_token'), LATE],
    ['the grant read answered after the deadline', on('find', 'oidc_grant'), LATE],
    ['the account read answered after the deadline', on('find', 'accounts'), LATE],
  ];
  /** The driver retries a read once after a network error: its retry is slowed too. */
  const failReplies = (match: CommandMatch, fault: ReplyFault) => (match.command === 'find'
    ? Promise.all([proxy.failReply(match, fault), proxy.failReply(match, fault)])
    : proxy.failReply(match, fault));

  it.each(faults)('when %s, the retry with the same token succeeds and leaves one live token', async (_name, match, fault) => {
    const rp = await offlineClient();
    const { refreshToken } = await offlineTokens(rp, user);
    const grantId = await grantOf(server.store, refreshToken);

    const seen = failReplies(match, fault);
    expect(await attempt(rp, refreshToken)).toEqual(UNAVAILABLE);
    await seen;
    const retried = await refresh(rp.config, refreshToken);
    if (!retried.ok) throw new Error(`the retry was refused: ${retried.error}`);

    const live = await liveRefreshTokens(server.store, grantId);
    expect(live.map((d) => d._id)).toEqual([retried.refreshToken]);
    expect(await refresh(rp.config, retried.refreshToken)).toMatchObject({ ok: true });
    await expectNoReuse(rp);
  });

  it('a retry that fails at each of its own writes can be retried again, and one token lives', async () => {
    const rp = await offlineClient();
    const { refreshToken } = await offlineTokens(rp, user);
    const grantId = await grantOf(server.store, refreshToken);
    // First attempt: its successor is stored but never delivered.
    const first = proxy.failReply(on('insert', 'oidc_refresh_token'), 'drop');
    expect(await attempt(rp, refreshToken)).toEqual(UNAVAILABLE);
    await first;
    // A retry replaces that successor in three writes: fence it, take it out of the slot,
    // store its own. Each fails in turn (and is applied), each next retry goes on from there.
    for (const match of [on('insert', 'oidc_refresh_token'), on('update', 'oidc_refresh_token'), on('insert', 'oidc_refresh_token')]) {
      const seen = proxy.failReply(match, LATE);
      expect(await attempt(rp, refreshToken)).toEqual(UNAVAILABLE);
      await seen;
    }
    const retried = await refresh(rp.config, refreshToken);
    if (!retried.ok) throw new Error(`the last retry was refused: ${retried.error}`);
    expect((await liveRefreshTokens(server.store, grantId)).map((d) => d._id)).toEqual([retried.refreshToken]);
    await expectNoReuse(rp);
    const replaced = await eventsOf(server.events.model, rp.clientId, 'refresh_token.retried');
    expect(replaced.length).toBeGreaterThanOrEqual(1);
  });

  it('answers 503 within the request budget however many slow calls it makes', async () => {
    const rp = await offlineClient();
    const { refreshToken } = await offlineTokens(rp, user);
    // Each of the refresh's five database calls takes ~400 ms here: 2 s without one budget.
    proxy.slowMs = 200;
    await proxy.set('slow');
    const started = performance.now();
    const outcome = await attempt(rp, refreshToken);
    const elapsed = performance.now() - started;
    await proxy.set('forward');
    expect(outcome).toEqual(UNAVAILABLE);
    // The budget is 1 s (config/defaults.ts); the rest is slack for a shared machine.
    expect(elapsed).toBeLessThan(1_600);
    // Whatever the abandoned calls still did, the token refreshes.
    await sleep(500);
    expect(await refresh(rp.config, refreshToken)).toMatchObject({ ok: true });
    await expectNoReuse(rp);
  });
});

describe('a second holder after a delivered rotation', () => {
  it('is reuse even the moment the answer has left: the family is revoked', async () => {
    const rp = await offlineClient();
    const { refreshToken } = await offlineTokens(rp, user);
    const next = await refreshed(rp.config, refreshToken);
    // At once: the delivery record may still be on its way; the replay waits for it.
    expect(await refresh(rp.config, refreshToken)).toEqual(INVALID_GRANT);
    expect(await refresh(rp.config, next)).toEqual(INVALID_GRANT);
    expect(await eventsOf(server.events.model, rp.clientId, 'refresh_token.reuse_detected')).toHaveLength(1);
  });

  it('is reuse after a retried rotation too: the token the failed answer stored stays dead', async () => {
    const rp = await offlineClient();
    const { refreshToken } = await offlineTokens(rp, user);
    const seen = proxy.failReply(on('insert', 'oidc_refresh_token'), 'drop');
    expect(await attempt(rp, refreshToken)).toEqual(UNAVAILABLE);
    await seen;
    const retried = await refreshed(rp.config, refreshToken);
    // The delivered retry makes the original token used for good.
    expect(await refresh(rp.config, refreshToken)).toEqual(INVALID_GRANT);
    expect(await refresh(rp.config, retried)).toEqual(INVALID_GRANT);
  });
});

describe('many presentations of one token at once', () => {
  it('serve at most one, and once the family is revoked nothing of it looks live', async () => {
    for (let round = 0; round < 3; round += 1) {
      const rp = await offlineClient();
      const { refreshToken } = await offlineTokens(rp, user);
      const grantId = await grantOf(server.store, refreshToken);
      const outcomes = await Promise.all(Array.from({ length: 12 }, () => attempt(rp, refreshToken)));
      expect(outcomes.filter((o) => o.status === 200).length).toBeLessThanOrEqual(1);
      expect(outcomes.filter((o) => o.status !== 200).every((o) => o.error === 'invalid_grant' || o.status === 503)).toBe(true);
      expect(await server.store.collection('RefreshToken').countDocuments({ grantId })).toBe(0);
    }
  });
});

describe('a code exchange that answered an error', () => {
  const faults: Array<[string, CommandMatch]> = [
    ["the code's consumption", on('update', 'oidc_authorization_code')],
    ["the access token's save", on('update', 'oidc_access_token')],
    ["the refresh token's save", on('insert', 'oidc_refresh_token')],
  ];

  it.each(faults)('when %s answered too late, the same code exchanges again and only the retry\'s refresh token lives', async (_name, match) => {
    const rp = await offlineClient();
    const form = await offlineCode(rp, user);
    const seen = proxy.failReply(match, LATE);
    expect(await exchange(server.issuer, rp, form)).toMatchObject({ status: 503, error: 'temporarily_unavailable' });
    await seen;
    const retried = await exchange(server.issuer, rp, form);
    expect(retried).toMatchObject({ status: 200, refreshToken: expect.any(String) });
    const grantId = await grantOf(server.store, retried.refreshToken!);
    expect((await liveRefreshTokens(server.store, grantId)).map((d) => d._id)).toEqual([retried.refreshToken]);
    expect(await refresh(rp.config, retried.refreshToken!)).toMatchObject({ ok: true });
  });

  it('a code replayed after a delivered exchange still revokes the grant', async () => {
    const rp = await offlineClient();
    const form = await offlineCode(rp, user);
    const first = await exchange(server.issuer, rp, form);
    expect(first.status).toBe(200);
    expect(await exchange(server.issuer, rp, form)).toMatchObject({ status: 400, error: 'invalid_grant' });
    expect(await refresh(rp.config, first.refreshToken!)).toEqual(INVALID_GRANT);
  });
});

describe('a refresh in flight while its grant is revoked', () => {
  // The refresh has read its grant (whose answer is held back) or is past it, waiting on the
  // account; either way its successor's save comes after the revocation.
  const moments: Array<[string, CommandMatch]> = [
    ['waiting on its grant read', on('find', 'oidc_grant')],
    ['past its grant check, waiting on the account', on('find', 'accounts')],
  ];

  it.each(moments)('%s: saves nothing, since the slot was fenced before the tokens went', async (_name, match) => {
    const rp = await offlineClient();
    const { refreshToken } = await offlineTokens(rp, user);
    const grantId = await grantOf(server.store, refreshToken);
    const seen = proxy.failReply(match, { delayMs: 500 });
    const inFlight = refresh(rp.config, refreshToken);
    await seen;
    await server.store.revokeGrant(grantId);
    expect(await inFlight).toEqual(INVALID_GRANT);
    expect(await server.store.collection('RefreshToken').countDocuments({ grantId })).toBe(0);
    expect(await liveRefreshTokens(server.store, grantId)).toEqual([]);
  });
});
