import { calculateJwkThumbprint, decodeJwt } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { dpopAwareVerifier } from '../../examples/snippets/dpop-resource-server.js';
import { adminToken, api, basic } from '../admin/support.js';
import { codeFlow, createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { proof, proofKey, tokenPost } from './support.js';

let server: TestServer;
let user: Awaited<ReturnType<typeof createUser>>;
let spa: RegisteredClient;
let backend: RegisteredClient;

beforeAll(async () => {
  server = await startServer();
  user = await createUser(server);
  spa = await registerClient(server, { token_endpoint_auth_method: 'none' });
  backend = await registerClient(server, { grant_types: ['client_credentials'], redirect_uris: [], response_types: [] });
});

afterAll(async () => {
  await server?.close();
});

/** A DPoP-bound sign-in of the public client, with openid-client's own DPoP support. */
async function boundSignIn() {
  const keyPair = await client.randomDPoPKeyPair();
  const dpop = client.getDPoPHandle(spa.config, keyPair);
  const { tokens } = await codeFlow(spa, {
    login: user, scope: 'openid offline_access api:read', params: { prompt: 'consent', resource: server.settings.apiAudience }, dpop,
  });
  return { keyPair, dpop, tokens };
}

async function refreshOutcome(token: string, options?: client.DPoPOptions): Promise<string> {
  try {
    await client.refreshTokenGrant(spa.config, token, undefined, options);
    return 'ok';
  } catch (err) {
    if (err instanceof client.ResponseBodyError) return err.error;
    throw err;
  }
}

describe('DPoP (RFC 9449)', () => {
  it('is advertised in discovery', async () => {
    const meta = await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
    expect(meta.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256']));
  });

  it('binds a public client\'s access token to the key, by its thumbprint', async () => {
    const { keyPair, tokens } = await boundSignIn();
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
    const jkt = await calculateJwkThumbprint(await crypto.subtle.exportKey('jwk', keyPair.publicKey) as Parameters<typeof calculateJwkThumbprint>[0]);
    expect(decodeJwt(tokens.access_token).cnf).toEqual({ jkt });
  });

  it('refuses a stolen refresh token without the key, and the holder\'s family keeps working', async () => {
    const { dpop, tokens } = await boundSignIn();
    const thief = client.getDPoPHandle(spa.config, await client.randomDPoPKeyPair());
    expect(await refreshOutcome(tokens.refresh_token!, { DPoP: thief })).toBe('invalid_grant');
    expect(await refreshOutcome(tokens.refresh_token!)).toBe('invalid_grant');
    const next = await client.refreshTokenGrant(spa.config, tokens.refresh_token!, undefined, { DPoP: dpop });
    expect(next.token_type.toLowerCase()).toBe('dpop');
    expect(await refreshOutcome(next.refresh_token!, { DPoP: dpop })).toBe('ok');
  });

  it('refuses a replayed proof', async () => {
    const key = await proofKey();
    const dpop = await proof(key, 'POST', `${server.issuer}/token`);
    const send = () => tokenPost(`${server.issuer}/token`, { grant_type: 'client_credentials' }, {
      authorization: basic(backend.clientId, backend.clientSecret!), dpop,
    });
    expect((await send()).status).toBe(200);
    const replay = await send();
    // oidc-provider answers a replay at the token endpoint as invalid_grant.
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
  });

  it('accepts one proof once even when it arrives at two instances at the same moment', async () => {
    // Two instances of one issuer (as behind a load balancer) on a database slow enough that
    // every request has looked the proof up before any has recorded it.
    const proxy = await TcpProxy.start(server.mongoUri);
    const env = { ISSUER: server.issuer };
    const [a, b] = [
      await startServer({ mongoUri: proxy.rewrite(server.mongoUri), dataDir: server.dataDir, env }),
      await startServer({ mongoUri: proxy.rewrite(server.mongoUri), dataDir: server.dataDir, env }),
    ];
    try {
      const dpop = await proof(await proofKey(), 'POST', `${server.issuer}/token`);
      const send = (port: number) => tokenPost(`http://127.0.0.1:${port}/token`, { grant_type: 'client_credentials' }, {
        authorization: basic(backend.clientId, backend.clientSecret!), dpop, host: new URL(server.issuer).host,
      });
      proxy.slowMs = 60;
      await proxy.set('slow');
      const results = await Promise.all([...Array(10)].map((_, i) => send((i % 2 ? a : b).settings.port)));
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      expect(results.filter((r) => r.body.error === 'invalid_grant')).toHaveLength(9);
    } finally {
      await proxy.set('forward');
      await Promise.all([a.close(), b.close()]);
      await proxy.close();
    }
  });

  it('makes a client registered with dpop_bound_access_tokens present a proof', async () => {
    const admin = await adminToken(server.issuer);
    const created = await api(server.issuer, admin, 'POST', '/clients', {
      client_name: 'Bound backend', grant_types: ['client_credentials'], redirect_uris: [], response_types: [], dpop_bound_access_tokens: true,
    });
    expect(created.status).toBe(201);
    const auth = { authorization: basic(created.body.client_id as string, created.body.client_secret as string) };
    const bare = await tokenPost(`${server.issuer}/token`, { grant_type: 'client_credentials' }, auth);
    expect(bare.status).toBe(400);
    expect(bare.body.error).toBe('invalid_grant');
    const bound = await tokenPost(`${server.issuer}/token`, { grant_type: 'client_credentials' }, {
      ...auth, dpop: await proof(await proofKey(), 'POST', `${server.issuer}/token`),
    });
    expect(bound.status).toBe(200);
    expect(bound.body.token_type).toBe('DPoP');
  });

  it('reports the binding at introspection', async () => {
    const { tokens } = await boundSignIn();
    const res = await tokenPost(`${server.issuer}/token/introspection`, { token: tokens.access_token }, {
      authorization: basic(backend.clientId, backend.clientSecret!),
    });
    expect(res.status).toBe(200);
    // The backend is not the token's client nor a resource server of the API: inactive to it.
    expect(res.body.active).toBe(false);
    const rs = await registerClient(server, {
      grant_types: ['client_credentials'], redirect_uris: [], response_types: [], resource_server_audiences: [server.settings.apiAudience],
    });
    const seen = await tokenPost(`${server.issuer}/token/introspection`, { token: tokens.access_token }, {
      authorization: basic(rs.clientId, rs.clientSecret!),
    });
    expect(seen.body).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: (decodeJwt(tokens.access_token).cnf as { jkt: string }).jkt } });
  });

  it('lets a resource server check the binding (examples/snippets/dpop-resource-server.ts)', async () => {
    const { keyPair, tokens } = await boundSignIn();
    const verify = dpopAwareVerifier(server.issuer, server.settings.apiAudience);
    const url = 'https://api.example.test/orders';
    const key = { privateKey: keyPair.privateKey, jwk: await crypto.subtle.exportKey('jwk', keyPair.publicKey) as never };
    const ath = Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(tokens.access_token))).toString('base64url');
    const good = await proof(key, 'GET', url, { ath });

    await expect(verify({ method: 'GET', url, authorization: `DPoP ${tokens.access_token}`, dpop: good }, 'api:read')).resolves.toMatchObject({ sub: user.sub });
    // The same proof again, the token as Bearer, a proof of another key, a proof for another URL: all refused.
    await expect(verify({ method: 'GET', url, authorization: `DPoP ${tokens.access_token}`, dpop: good }, 'api:read')).rejects.toThrow(/does not match/);
    await expect(verify({ method: 'GET', url, authorization: `Bearer ${tokens.access_token}` }, 'api:read')).rejects.toThrow(/needs its proof/);
    const stranger = await proof(await proofKey(), 'GET', url, { ath });
    await expect(verify({ method: 'GET', url, authorization: `DPoP ${tokens.access_token}`, dpop: stranger }, 'api:read')).rejects.toThrow(/does not match/);
    const elsewhere = await proof(key, 'GET', 'https://api.example.test/admin', { ath });
    await expect(verify({ method: 'GET', url, authorization: `DPoP ${tokens.access_token}`, dpop: elsewhere }, 'api:read')).rejects.toThrow(/does not match/);
  });

  it('refuses a bound token presented as Bearer at our own APIs', async () => {
    const { tokens } = await boundSignIn();
    const res = await fetch(`${server.issuer}/admin/users`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(res.status).toBe(401);
  });
});

describe('DPoP nonces (DPOP_REQUIRE_NONCE=true)', () => {
  let strict: TestServer;
  let rp: RegisteredClient;

  beforeAll(async () => {
    strict = await startServer({ env: { DPOP_REQUIRE_NONCE: 'true' } });
    rp = await registerClient(strict, { grant_types: ['client_credentials'], redirect_uris: [], response_types: [] });
  });
  afterAll(async () => {
    await strict?.close();
  });

  it('answers a proof without a nonce with use_dpop_nonce and a DPoP-Nonce to use', async () => {
    const key = await proofKey();
    const auth = { authorization: basic(rp.clientId, rp.clientSecret!) };
    const first = await tokenPost(`${strict.issuer}/token`, { grant_type: 'client_credentials' }, { ...auth, dpop: await proof(key, 'POST', `${strict.issuer}/token`) });
    expect(first.status).toBe(400);
    expect(first.body.error).toBe('use_dpop_nonce');
    const nonce = first.headers.get('dpop-nonce');
    expect(nonce).toBeTruthy();
    const second = await tokenPost(`${strict.issuer}/token`, { grant_type: 'client_credentials' }, { ...auth, dpop: await proof(key, 'POST', `${strict.issuer}/token`, { nonce }) });
    expect(second.status).toBe(200);
  });

  it('works with openid-client, which retries with the nonce', async () => {
    const dpop = client.getDPoPHandle(rp.config, await client.randomDPoPKeyPair());
    const attempt = () => client.clientCredentialsGrant(rp.config, undefined, { DPoP: dpop });
    // openid-client remembers the nonce from the refusal; the retry carries it.
    const tokens = await attempt().catch((err: unknown) => {
      if (client.ResponseBodyError && err instanceof client.ResponseBodyError && err.error === 'use_dpop_nonce') return attempt();
      throw err;
    });
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
  });
});
