import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Connection } from 'mongoose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadSettings } from '../../src/config/settings.js';
import { connectDatabase } from '../../src/db/connection.js';
import { accountModel } from '../../src/db/models/account.js';
import { Accounts } from '../../src/oidc/accounts.js';
import { ArtifactStore } from '../../src/oidc/store.js';
import { basic, tokenRequest } from '../admin/support.js';
import { SEEDED, startServerProcess, type ServerProcess } from '../support/process.js';
import { codeFlow, createUser, openLoginForm, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { freePort, freshDatabaseUri, TEST_ENV } from '../support/server.js';

/**
 * What an operator sees: a full flow (sign-in, a failed sign-in, code exchange, rotation,
 * a reuse, introspection, revocation, the admin API) against the real process, then the
 * Prometheus scrape and every log line it wrote.
 */
const adminSecret = `admin-${randomBytes(12).toString('hex')}`;
let server: ServerProcess;
let metricsPort: number;
let connection: Connection;
let rp: RegisteredClient;
let user: Awaited<ReturnType<typeof createUser>>;
/** Every secret the flow used; none may appear in any log line. */
const secrets = new Set<string>();
let echoedRequestId: string | null;
/** Ids the server generated for two requests that brought none. */
let generatedRequestIds: (string | null)[];
let scrape: string;

beforeAll(async () => {
  const port = await freePort();
  metricsPort = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const database = freshDatabaseUri('observability');
  server = await startServerProcess({
    env: {
      PORT: String(port), ISSUER: issuer, MONGODB_URI: database, METRICS_PORT: String(metricsPort),
      DATA_DIR: await mkdtemp(path.join(tmpdir(), 'oidc-obs-')), LOG_LEVEL: 'info', TRUST_PROXY: 'true',
      ADMIN_CLIENT_SECRET: adminSecret,
    },
    ready: SEEDED,
  });
  connection = await connectDatabase(database);
  rp = await registerClient({ store: new ArtifactStore(connection), issuer });
  user = await createUser({ accounts: new Accounts(accountModel(connection), loadSettings(TEST_ENV).password) });
  secrets.add(adminSecret).add(rp.clientSecret!).add(user.password).add(basic(rp.clientId, rp.clientSecret!).slice(6));

  // A failed sign-in first (wrong password), then the real flow.
  const failed = await openLoginForm(rp);
  const wrongPassword = `wrong-${randomBytes(6).toString('hex')}`;
  secrets.add(wrongPassword);
  const refused = await failed.agent.request(`${issuer}/interaction/${failed.uid}/login`, { form: { login: user.username, password: wrongPassword } });
  expect(refused.status).toBe(401);

  const { tokens, callbackUrl, agent } = await codeFlow(rp, { scope: 'openid offline_access', params: { prompt: 'consent' }, login: user });
  secrets.add(callbackUrl.searchParams.get('code')!).add(tokens.access_token).add(tokens.refresh_token!).add(tokens.id_token!);
  for (const value of [...agent.cookies.values(), ...failed.agent.cookies.values()]) secrets.add(value);

  const rotated = await client.refreshTokenGrant(rp.config, tokens.refresh_token!);
  secrets.add(rotated.access_token).add(rotated.refresh_token!);
  await expect(client.refreshTokenGrant(rp.config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

  const introspect = await fetch(`${issuer}/token/introspection`, {
    method: 'POST', headers: { authorization: basic(rp.clientId, rp.clientSecret!), 'x-request-id': 'ops-test-42' },
    body: new URLSearchParams({ token: rotated.access_token }),
  });
  expect(introspect.status).toBe(200);
  echoedRequestId = introspect.headers.get('x-request-id');
  generatedRequestIds = await Promise.all([1, 2].map(async () => (await fetch(`${issuer}/jwks`)).headers.get('x-request-id')));

  const adminRes = await tokenRequest(issuer, 'admin', adminSecret, { scope: 'admin' });
  const adminAccess = ((await adminRes.json()) as { access_token: string }).access_token;
  secrets.add(adminAccess);
  const users = await fetch(`${issuer}/admin/users/${user.sub}`, { headers: { authorization: `Bearer ${adminAccess}` } });
  expect(users.status).toBe(200);

  scrape = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
}, 90_000);

afterAll(async () => {
  await server?.stop();
  await connection?.close();
});

function sample(name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = scrape.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `)
    ? wanted.every((pair) => l.includes(pair)) : false);
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('metrics on METRICS_PORT', () => {
  it('are not served on the public issuer', async () => {
    expect((await fetch(`${server.issuer}/metrics`)).status).toBe(404);
  });

  it('count tokens, rotations, the reuse, the family revocation and sign-ins', () => {
    expect(sample('oidc_tokens_issued_total', { grant_type: 'authorization_code', token_type: 'refresh_token' })).toBe(1);
    expect(sample('oidc_tokens_issued_total', { grant_type: 'refresh_token', token_type: 'access_token' })).toBe(1);
    expect(sample('oidc_tokens_issued_total', { grant_type: 'client_credentials', token_type: 'access_token' })).toBe(1);
    expect(sample('oidc_refresh_token_rotations_total')).toBeGreaterThanOrEqual(1);
    expect(sample('oidc_refresh_token_reuse_detected_total')).toBe(1);
    expect(sample('oidc_refresh_token_family_revocations_total', { reason: 'reuse' })).toBe(1);
    expect(sample('oidc_sign_ins_total', { outcome: 'succeeded' })).toBe(1);
    expect(sample('oidc_sign_ins_total', { outcome: 'failed' })).toBe(1);
  });

  it('time requests by route template, never by raw path', () => {
    expect(sample('http_request_duration_seconds_count', { method: 'POST', route: '/token', status: '200' })).toBeGreaterThanOrEqual(2);
    expect(sample('http_request_duration_seconds_count', { route: '/interaction/:uid/login', status: '401' })).toBe(1);
    expect(sample('http_request_duration_seconds_count', { route: '/admin/users/:id', status: '200' })).toBe(1);
    expect(scrape).not.toContain(user.sub);
    expect(scrape).not.toMatch(/route="\/interaction\/[\w-]{10,}/);
  });

  it('include MongoDB command latency and process metrics', () => {
    expect(sample('mongodb_command_duration_seconds_count', { command: 'find', outcome: 'ok' })).toBeGreaterThan(0);
    expect(sample('process_resident_memory_bytes')).toBeGreaterThan(0);
  });
});

describe('logs', () => {
  // Stopped first: the process flushes its buffered log lines on exit.
  beforeAll(() => server.stop());

  it('write one JSON line per request with id, route, status, duration and client, echoing a trusted X-Request-Id', () => {
    expect(echoedRequestId).toBe('ops-test-42');
    const lines = server.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const introspection = lines.find((l) => l.msg === 'request' && l.reqId === 'ops-test-42');
    expect(introspection).toMatchObject({ method: 'POST', route: '/token/introspection', status: 200, clientId: rp.clientId, ms: expect.any(Number) });
    const reuse = lines.find((l) => l.msg === 'security_event' && l.type === 'refresh_token.reuse_detected');
    expect(reuse).toMatchObject({ level: 'warn', clientId: rp.clientId, accountId: user.sub });
  });

  it('give a request that brought no X-Request-Id an id of its own, unique, in its line and its response', () => {
    const [first, second] = generatedRequestIds;
    expect(first).toMatch(/^[\w-]{8,}$/);
    expect(second).not.toBe(first);
    const lines = server.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const id of [first, second]) {
      expect(lines.find((l) => l.reqId === id)).toMatchObject({ level: 'info', route: '/jwks', status: 200, time: expect.any(Number) });
    }
  });

  it('never contain a password, secret, code, token, cookie or Authorization header', () => {
    const output = server.output();
    expect(output).toContain('"msg":"request"');
    expect(secrets.size).toBeGreaterThan(10);
    for (const secret of secrets) expect(output.includes(secret), `a secret appeared in the logs: ${secret.slice(0, 6)}…`).toBe(false);
  });
});
