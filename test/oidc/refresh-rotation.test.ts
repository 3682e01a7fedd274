import { setTimeout as sleep } from 'node:timers/promises';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RefreshTokenAdapter } from '../../src/oidc/refresh-token-adapter.js';
import { eventsOf, INVALID_GRANT, offlineTokens, refresh, refreshed, userinfoWorks, type RefreshOutcome } from '../support/refresh.js';
import { createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';

type User = Awaited<ReturnType<typeof createUser>>;

describe('refresh-token rotation with default policy', () => {
  let server: TestServer;
  let user: User;
  let rp: RegisteredClient;

  beforeAll(async () => {
    server = await startServer();
    user = await createUser(server);
    rp = await registerClient(server, { scope: 'openid offline_access' });
  });
  afterAll(async () => { await server?.close(); });

  it('returns a new refresh token on every refresh, each usable once', async () => {
    const { refreshToken: first } = await offlineTokens(rp, user);
    const second = await refreshed(rp.config, first);
    const third = await refreshed(rp.config, second);
    expect(new Set([first, second, third]).size).toBe(3);
    expect(await refresh(rp.config, third)).toMatchObject({ ok: true });
  });

  it('keeps the same refresh token for a client that opts out of rotation', async () => {
    const fixed = await registerClient(server, { scope: 'openid offline_access', refresh_token_rotation: false });
    const { refreshToken } = await offlineTokens(fixed, user);
    expect(await refreshed(fixed.config, refreshToken)).toBe(refreshToken);
    expect(await refreshed(fixed.config, refreshToken)).toBe(refreshToken);
  });

  it('answers invalid_grant to a replayed refresh token and revokes the whole family', async () => {
    const family = await registerClient(server, { scope: 'openid offline_access' });
    const { refreshToken: first } = await offlineTokens(family, user);
    const rotated = await refresh(family.config, first);
    expect(rotated.ok).toBe(true);
    if (!rotated.ok) return;
    expect(await userinfoWorks(family.config, rotated.accessToken, user.sub)).toBe(true);

    expect(await refresh(family.config, first)).toEqual(INVALID_GRANT);
    // The newest token and the access token issued with it die with the family.
    expect(await refresh(family.config, rotated.refreshToken)).toEqual(INVALID_GRANT);
    expect(await userinfoWorks(family.config, rotated.accessToken, user.sub)).toBe(false);

    const [reuse] = await eventsOf(server.events.model, family.clientId, 'refresh_token.reuse_detected');
    expect(reuse).toMatchObject({ accountId: user.sub, clientId: family.clientId, grantId: expect.any(String) });
    expect(reuse!.ip).toMatch(/127\.0\.0\.1/);
    expect(reuse!.userAgent).toBeTruthy();
    const [revoked] = await eventsOf(server.events.model, family.clientId, 'refresh_token.family_revoked');
    expect(revoked).toMatchObject({ grantId: reuse!.grantId, detail: { reason: 'reuse' } });
    const stored = JSON.stringify(await server.events.model.find({ clientId: family.clientId }).lean());
    expect(stored).not.toContain(first);
    expect(stored).not.toContain(rotated.refreshToken);
  });

  it('revokes the family when the client revokes its refresh token', async () => {
    const family = await registerClient(server, { scope: 'openid offline_access' });
    const { refreshToken, accessToken } = await offlineTokens(family, user);
    expect(await userinfoWorks(family.config, accessToken, user.sub)).toBe(true);
    await client.tokenRevocation(family.config, refreshToken, { token_type_hint: 'refresh_token' });
    expect(await refresh(family.config, refreshToken)).toEqual(INVALID_GRANT);
    expect(await userinfoWorks(family.config, accessToken, user.sub)).toBe(false);
    const [revoked] = await eventsOf(server.events.model, family.clientId, 'refresh_token.family_revoked');
    expect(revoked).toMatchObject({ accountId: user.sub, detail: { reason: 'revocation' } });
  });

  it('lets exactly one of 20 simultaneous refreshes with one token win; the rest get invalid_grant', async () => {
    const family = await registerClient(server, { scope: 'openid offline_access' });
    const { refreshToken } = await offlineTokens(family, user);
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => refresh(family.config, refreshToken)));
    const winners = outcomes.filter((o) => o.ok);
    expect(winners).toHaveLength(1);
    expect(outcomes.filter((o) => !o.ok)).toEqual(Array(19).fill(INVALID_GRANT));
    // The winner's token belongs to a family that was revoked as reused.
    const winner = winners[0] as Extract<RefreshOutcome, { ok: true }>;
    expect(await refresh(family.config, winner.refreshToken)).toEqual(INVALID_GRANT);
    expect(await eventsOf(server.events.model, family.clientId, 'refresh_token.reuse_detected')).not.toHaveLength(0);
  });

  it('never treats a replay as a retry when no grace period is configured', async () => {
    const family = await registerClient(server, { scope: 'openid offline_access' });
    const { refreshToken: first } = await offlineTokens(family, user);
    const second = await refreshed(family.config, first);
    expect(await refresh(family.config, first)).toEqual(INVALID_GRANT);
    expect(await refresh(family.config, second)).toEqual(INVALID_GRANT);
  });
});

describe('retry grace period and lifetimes', () => {
  let server: TestServer;
  let user: User;

  beforeAll(async () => {
    server = await startServer({ env: { REFRESH_TOKEN_IDLE_TTL: '2', GRANT_TTL: '1' } });
    user = await createUser(server);
  });
  afterAll(async () => { await server?.close(); });

  const graceClient = (seconds: number) =>
    registerClient(server, { scope: 'openid offline_access', refresh_token_grace_period: seconds, refresh_token_idle_ttl: 60 });

  it('lets a client that lost the response retry the previous token once within the grace period', async () => {
    const rp = await graceClient(10);
    const { refreshToken: first } = await offlineTokens(rp, user);
    const lost = await refreshed(rp.config, first);
    const retried = await refreshed(rp.config, first);
    expect(retried).not.toBe(lost);
    // The retried token carries the family on. (The lost one is kept as superseded, so
    // presenting it later is reuse: test/oidc/refresh-replay.test.ts.)
    const next = await refreshed(rp.config, retried);
    expect(await refresh(rp.config, next)).toMatchObject({ ok: true });
    const [event] = await eventsOf(server.events.model, rp.clientId, 'refresh_token.grace_retry');
    expect(event).toMatchObject({ accountId: user.sub, grantId: expect.any(String) });
    expect((server.provider.RefreshToken.adapter as RefreshTokenAdapter).graceRetryCount).toBeGreaterThan(0);
  });

  it('treats a second retry of the same token within the grace period as reuse', async () => {
    const rp = await graceClient(10);
    const { refreshToken: first } = await offlineTokens(rp, user);
    await refreshed(rp.config, first);
    const retried = await refreshed(rp.config, first);
    expect(await refresh(rp.config, first)).toEqual(INVALID_GRANT);
    expect(await refresh(rp.config, retried)).toEqual(INVALID_GRANT);
  });

  it('allows at most one of several simultaneous retries within the grace period and revokes the family', async () => {
    const rp = await graceClient(10);
    const { refreshToken: first } = await offlineTokens(rp, user);
    const lost = await refreshed(rp.config, first);
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => refresh(rp.config, first)));
    const winners = outcomes.filter((o): o is Extract<RefreshOutcome, { ok: true }> => o.ok);
    expect(winners.length).toBeLessThanOrEqual(1);
    expect(outcomes.filter((o) => !o.ok)).toEqual(Array(10 - winners.length).fill(INVALID_GRANT));
    // No chain survives: neither the successor the retries replaced nor any retry's token.
    for (const token of [lost, ...winners.map((w) => w.refreshToken)]) expect(await refresh(rp.config, token)).toEqual(INVALID_GRANT);
  });

  it('treats a token two generations old as reuse even within the grace period', async () => {
    const rp = await graceClient(10);
    const { refreshToken: first } = await offlineTokens(rp, user);
    const second = await refreshed(rp.config, first);
    const third = await refreshed(rp.config, second);
    expect(await refresh(rp.config, first)).toEqual(INVALID_GRANT);
    expect(await refresh(rp.config, third)).toEqual(INVALID_GRANT);
    expect(await eventsOf(server.events.model, rp.clientId, 'refresh_token.grace_retry', 0)).toHaveLength(0);
    expect(await eventsOf(server.events.model, rp.clientId, 'refresh_token.reuse_detected')).not.toHaveLength(0);
  });

  it('treats a retry after the grace period as reuse', async () => {
    const rp = await graceClient(1);
    const { refreshToken: first } = await offlineTokens(rp, user);
    const second = await refreshed(rp.config, first);
    await sleep(1_300);
    expect(await refresh(rp.config, first)).toEqual(INVALID_GRANT);
    expect(await refresh(rp.config, second)).toEqual(INVALID_GRANT);
  });

  it('applies the server-wide grace period (REFRESH_TOKEN_GRACE_SECONDS) to clients without their own', async () => {
    const graceful = await startServer({ env: { REFRESH_TOKEN_GRACE_SECONDS: '10' } });
    try {
      const guest = await createUser(graceful);
      const rp = await registerClient(graceful, { scope: 'openid offline_access' });
      const { refreshToken: first } = await offlineTokens(rp, guest);
      await refreshed(rp.config, first);
      expect(await refresh(rp.config, first)).toMatchObject({ ok: true });
    } finally {
      await graceful.close();
    }
  });

  it('expires a refresh token left unused past the idle lifetime (REFRESH_TOKEN_IDLE_TTL)', async () => {
    const rp = await registerClient(server, { scope: 'openid offline_access' });
    const { refreshToken: first } = await offlineTokens(rp, user);
    const second = await refreshed(rp.config, first);
    await sleep(3_000);
    expect(await refresh(rp.config, second)).toEqual(INVALID_GRANT);
    const [event] = await eventsOf(server.events.model, rp.clientId, 'refresh_token.expired_use');
    expect(event).toMatchObject({ accountId: user.sub, clientId: rp.clientId });
  });

  it('ends the family at its absolute lifetime however often it is refreshed, and the grant lives as long', async () => {
    // GRANT_TTL is 1 s on this server: the family still lives its full 6 s (at least 5 s
    // after the first token, as token times are whole seconds).
    const rp = await registerClient(server, { scope: 'openid offline_access', refresh_token_absolute_ttl: 6, refresh_token_idle_ttl: 60 });
    const { refreshToken: first } = await offlineTokens(rp, user);
    await sleep(1_500);
    const second = await refreshed(rp.config, first);
    await sleep(1_500);
    const third = await refreshed(rp.config, second);
    await sleep(3_200);
    expect(await refresh(rp.config, third)).toEqual(INVALID_GRANT);
  });
});
