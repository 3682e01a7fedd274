import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { connectDatabase } from '../../src/db/connection.js';
import { ArtifactStore } from '../../src/oidc/store.js';
import { startServerProcess, SEEDED, type ServerProcess } from '../support/process.js';
import { registerClient, type RegisteredClient } from '../support/relying-party.js';
import { freshDatabaseUri } from '../support/server.js';

/**
 * oidc-provider prints "default … function called, you SHOULD change it" the first time one
 * of its placeholder policies decides something. Ours are all configured, so a real
 * process that has introspected, revoked and answered a browser's CORS request prints none.
 */
let server: ServerProcess;
let connection: Connection;
let owner: RegisteredClient;
let other: RegisteredClient;
let spa: RegisteredClient;
const SPA_ORIGIN = 'http://127.0.0.1:1';

function form(caller: RegisteredClient, params: Record<string, string>, headers: Record<string, string> = {}): RequestInit {
  const body = new URLSearchParams(params);
  const auth: Record<string, string> = caller.clientSecret
    ? { authorization: `Basic ${Buffer.from(`${caller.clientId}:${caller.clientSecret}`).toString('base64')}` }
    : {};
  if (!caller.clientSecret) body.set('client_id', caller.clientId);
  return { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth, ...headers }, body };
}

beforeAll(async () => {
  const mongoUri = freshDatabaseUri('notices');
  const dataDir = await mkdtemp(path.join(tmpdir(), 'oidc-notices-'));
  server = await startServerProcess({ env: { MONGODB_URI: mongoUri, DATA_DIR: dataDir }, ready: SEEDED });
  connection = await connectDatabase(mongoUri);
  const store = new ArtifactStore(connection);
  const target = { store, issuer: server.issuer };
  const service = { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] };
  [owner, other, spa] = await Promise.all([
    registerClient(target, { client_name: 'Owner', ...service }),
    registerClient(target, { client_name: 'Other', ...service }),
    registerClient(target, { client_name: 'SPA', token_endpoint_auth_method: 'none' }),
  ]);
});
afterAll(async () => {
  await server?.stop();
  await connection?.close();
});

describe('a real server process', () => {
  it('introspects, revokes and answers CORS under our policies without printing a default-policy notice', async () => {
    const issued = await fetch(`${server.issuer}/token`, form(owner, { grant_type: 'client_credentials' }));
    expect(issued.status).toBe(200);
    const { access_token: opaque } = (await issued.json()) as { access_token: string };

    const foreign = await fetch(`${server.issuer}/token/introspection`, form(other, { token: opaque }));
    expect(await foreign.json()).toEqual({ active: false });
    const own = await fetch(`${server.issuer}/token/introspection`, form(owner, { token: opaque }));
    expect(await own.json()).toMatchObject({ active: true, client_id: owner.clientId });

    const foreignRevoke = await fetch(`${server.issuer}/token/revocation`, form(other, { token: opaque }));
    expect(foreignRevoke.status).toBe(200);
    const stillActive = await fetch(`${server.issuer}/token/introspection`, form(owner, { token: opaque }));
    expect((await stillActive.json()) as { active: boolean }).toMatchObject({ active: true });

    // A SPA's cross-origin call: allowed from its redirect URI's origin, refused from any other.
    const allowed = await fetch(`${server.issuer}/token/revocation`, form(spa, { token: 'unknown' }, { origin: SPA_ORIGIN }));
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(SPA_ORIGIN);
    const refused = await fetch(`${server.issuer}/token/revocation`, form(spa, { token: 'unknown' }, { origin: 'https://evil.example' }));
    expect(refused.status).toBe(400);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    const confidential = await fetch(`${server.issuer}/token/introspection`, form(owner, { token: opaque }, { origin: SPA_ORIGIN }));
    expect(confidential.status).toBe(400);

    const output = server.output();
    expect(output).toContain('listening on port');
    expect(output).not.toMatch(/oidc-provider (NOTICE|WARNING)/);
    expect(output).not.toMatch(/default .* function called/);
  });
});
