import { setTimeout as sleep } from 'node:timers/promises';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { defaults } from '../../config/defaults.js';
import { freshDatabaseUri, startServer, type TestServer } from '../support/server.js';
import { adminToken, api, tokenRequest } from '../admin/support.js';

const ORDERS = 'https://orders.cross.example.com';
let a: TestServer;
let b: TestServer;
let token: string;

beforeAll(async () => {
  a = await startServer({ mongoUri: freshDatabaseUri('apis_cross') });
  b = await startServer({ mongoUri: a.mongoUri, dataDir: a.dataDir });
  token = await adminToken(a.issuer);
});

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

/** Polls `attempt` on instance B until it holds, for a few refresh periods at most (a
 * bound on staleness, not a speed test: the cache is designed to see changes after one). */
async function eventually<T>(attempt: () => Promise<T>, holds: (value: T) => boolean): Promise<{ value: T }> {
  const deadline = Date.now() + 5 * defaults.apis.refreshMs;
  for (;;) {
    const value = await attempt();
    if (holds(value) || Date.now() > deadline) return { value };
    await sleep(50);
  }
}

describe('APIs changed on one instance', () => {
  it('reach the token endpoint of every other instance within about a second', async () => {
    const job = await api(a.issuer, token, 'POST', '/clients', { client_name: 'Job', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
    const [id, secret] = [String(job.body.client_id), String(job.body.client_secret)];
    const ask = async (scope: string) => {
      const res = await tokenRequest(b.issuer, id, secret, { resource: ORDERS, scope });
      return (await res.json()) as { access_token?: string; error?: string };
    };
    // B reads the catalog now, so the registration below is news to it.
    expect(await ask('orders:read')).toMatchObject({ error: 'invalid_target' });

    const created = await api(a.issuer, token, 'POST', '/resources', {
      indicator: ORDERS, name: 'Orders', scopes: [{ name: 'orders:read', description: 'See orders' }],
    });
    await api(a.issuer, token, 'PUT', `/clients/${id}/resource-scopes`, { grants: [{ resource: ORDERS, scopes: ['orders:read'] }] });
    const seen = await eventually(() => ask('orders:read'), (body) => body.access_token !== undefined);
    expect(decodeJwt(seen.value.access_token!)).toMatchObject({ aud: ORDERS, scope: 'orders:read' });

    // A removed scope: B stops issuing it, and the grant of it lapses.
    await api(a.issuer, token, 'DELETE', `/resources/${String(created.body.id)}/scopes/orders:read`);
    const gone = await eventually(() => ask('orders:read'), (body) => body.error === 'invalid_scope');
    expect(gone.value).toMatchObject({ error: 'invalid_scope' });
  });
});
