import { setTimeout as sleep } from 'node:timers/promises';
import * as client from 'openid-client';

import type { SecurityEventModel, SecurityEventRecord, SecurityEventType } from '../../src/db/models/security-event.js';
import { codeFlow, type Credentials, type RegisteredClient } from './relying-party.js';
import type { UserAgent } from './user-agent.js';

export type RefreshOutcome =
  | { ok: true; refreshToken: string; accessToken: string }
  | { ok: false; status: number; error: string };

export const INVALID_GRANT = { ok: false, status: 400, error: 'invalid_grant' } as const;

/** One refresh over HTTP with openid-client; an OAuth error response becomes a value,
 * anything else throws. */
export async function refresh(config: client.Configuration, token: string, params?: Record<string, string>): Promise<RefreshOutcome> {
  try {
    const tokens = await client.refreshTokenGrant(config, token, params);
    return { ok: true, refreshToken: tokens.refresh_token!, accessToken: tokens.access_token };
  } catch (err) {
    if (err instanceof client.ResponseBodyError) return { ok: false, status: err.status, error: err.error };
    throw err;
  }
}

export async function refreshed(config: client.Configuration, token: string): Promise<string> {
  const outcome = await refresh(config, token);
  if (!outcome.ok) throw new Error(`refresh failed: ${outcome.error}`);
  return outcome.refreshToken;
}

/** Whether the userinfo endpoint still accepts this (opaque) access token. */
export async function userinfoWorks(config: client.Configuration, accessToken: string, sub: string): Promise<boolean> {
  try {
    await client.fetchUserInfo(config, accessToken, sub);
    return true;
  } catch (err) {
    if (err instanceof client.WWWAuthenticateChallengeError || err instanceof client.ResponseBodyError) return false;
    throw err;
  }
}

/** A hand-written token request (HTTP Basic), for bodies no relying-party library would
 * send; answers the status and the parsed body, whatever they are. */
export async function postToken(issuer: string, rp: RegisteredClient, form: Record<string, string>): Promise<{ status: number; body: unknown }> {
  const basic = Buffer.from(`${encodeURIComponent(rp.clientId)}:${encodeURIComponent(rp.clientSecret ?? '')}`).toString('base64');
  const response = await fetch(new URL('/token', issuer), {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(form),
  });
  return { status: response.status, body: await response.json() };
}

/** Signs the user in with offline_access (prompt=consent, or oidc-provider drops it).
 * With an agent that already holds a session, the new chain joins the existing grant. */
export async function offlineTokens(rp: RegisteredClient, login: Credentials, agent?: UserAgent) {
  const { tokens, agent: used } = await codeFlow(rp, { scope: 'openid offline_access', params: { prompt: 'consent' }, login, agent });
  if (!tokens.refresh_token) throw new Error('no refresh token issued');
  return { refreshToken: tokens.refresh_token, accessToken: tokens.access_token, agent: used };
}

/** Events are stored by a listener or after the response may have left: wait for them. */
export async function eventsOf(
  model: SecurityEventModel, clientId: string, type: SecurityEventType, atLeast = 1,
): Promise<SecurityEventRecord[]> {
  for (let i = 0; i < 50; i += 1) {
    const found = await model.find({ clientId, type }).lean();
    if (found.length >= atLeast) return found;
    await sleep(50);
  }
  return model.find({ clientId, type }).lean();
}
