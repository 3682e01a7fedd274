/**
 * What a sign-in needs, set up the way an operator does it: through the admin API of the
 * running server (so the server hashes the passwords with its own parameters).
 */
import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';

import { CALLBACK, discover, type Credentials, type RegisteredClient } from '../test/support/relying-party.js';
import type { ProductionSecrets } from './production-server.js';

export async function adminToken(issuer: string, admin: ProductionSecrets['admin']): Promise<string> {
  const basic = Buffer.from(`${admin.clientId}:${admin.clientSecret}`).toString('base64');
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'admin' }),
  });
  const body = await res.json() as { access_token?: string };
  if (!res.ok || !body.access_token) throw new Error(`admin token: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

async function adminPost<T>(issuer: string, token: string, route: string, body: unknown): Promise<T> {
  const res = await fetch(`${issuer}/admin${route}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`POST /admin${route}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<T>;
}

/** A confidential web app using the authorization code flow (and refresh tokens if asked), and openid-client's view of it. */
export async function registerApp(issuer: string, token: string, grantTypes: string[] = ['authorization_code']): Promise<RegisteredClient> {
  const app = await adminPost<{ client_id: string; client_secret: string }>(issuer, token, '/clients', {
    client_name: 'Sign-in bench', redirect_uris: [CALLBACK], grant_types: grantTypes, response_types: ['code'],
  });
  const config = await discover(issuer, app.client_id, { redirect_uris: [CALLBACK] }, client.ClientSecretBasic(app.client_secret));
  return { clientId: app.client_id, clientSecret: app.client_secret, redirectUri: CALLBACK, config };
}

/** Users with random passwords, and the id (the `sub`) the server gave each. */
export async function createUsers(issuer: string, token: string, count: number): Promise<(Credentials & { id: string })[]> {
  const run = randomBytes(3).toString('hex');
  return Promise.all(Array.from({ length: count }, async (_, i) => {
    const user = { username: `bench-${run}-${i}`, password: randomBytes(15).toString('base64url') };
    const { id } = await adminPost<{ id: string }>(issuer, token, '/users', user);
    return { ...user, id };
  }));
}
