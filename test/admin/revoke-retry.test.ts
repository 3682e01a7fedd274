import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { grantOf, liveRefreshTokens } from '../support/chains.js';
import { INVALID_GRANT, offlineTokens, refresh } from '../support/refresh.js';
import { createUser, registerClient } from '../support/relying-party.js';
import { freshDatabaseUri, startServer, type TestServer } from '../support/server.js';
import { TcpProxy, type CommandMatch } from '../support/tcp-proxy.js';
import { adminToken, api } from './support.js';

/**
 * An admin revocation that answered 503 may have done part of its work before the database
 * went slow. Retrying it must finish the job: the operator can always retry on a 503.
 */
let proxy: TcpProxy;
let server: TestServer;
let token: string;

beforeAll(async () => {
  const direct = freshDatabaseUri('revoke_retry');
  proxy = await TcpProxy.start(direct);
  server = await startServer({ mongoUri: proxy.rewrite(direct) });
  token = await adminToken(server.issuer);
});
afterAll(async () => {
  await server?.close();
  await proxy?.close();
});
afterEach(() => {
  const unused = proxy.pendingFaults;
  proxy.clearFaults();
  expect(unused).toBe(0);
});

describe('an admin revoke that answered 503', () => {
  // Applied, answered too late: the cut-off, the grant's deletion, the end of its refresh tokens.
  const steps: Array<[string, CommandMatch]> = [
    ["the account's cut-off", { command: 'update', collection: 'accounts' }],
    ['the grant deletion', { command: 'delete', collection: 'oidc_grant' }],
    ["the refresh tokens' ending", { command: 'update', collection: 'oidc_refresh_token' }],
  ];

  it.each(steps)('at %s is safe to retry: the retry answers 200 and nothing of the user lives', async (_name, match) => {
    const user = await createUser(server);
    const rp = await registerClient(server, { scope: 'openid offline_access' });
    const { refreshToken } = await offlineTokens(rp, user);
    const grantId = await grantOf(server.store, refreshToken);

    const seen = proxy.failReply(match, { delayMs: 1_500 });
    const first = await api(server.issuer, token, 'POST', `/users/${user.sub}/revoke`);
    expect(first.status).toBe(503);
    expect(first.body).toMatchObject({ error: 'temporarily_unavailable' });
    await seen;

    const retried = await api(server.issuer, token, 'POST', `/users/${user.sub}/revoke`);
    expect(retried.status).toBe(200);
    expect(await refresh(rp.config, refreshToken)).toEqual(INVALID_GRANT);
    expect(await liveRefreshTokens(server.store, grantId)).toEqual([]);
    expect((await api(server.issuer, token, 'GET', `/users/${user.sub}/grants`)).body.grants).toEqual([]);
    expect((await api(server.issuer, token, 'GET', `/users/${user.sub}/sessions`)).body.sessions).toEqual([]);
  });
});
