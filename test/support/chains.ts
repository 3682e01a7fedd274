import * as client from 'openid-client';

import type { ArtifactDoc, ArtifactStore } from '../../src/oidc/store.js';
import { postToken } from './refresh.js';
import type { Credentials, RegisteredClient } from './relying-party.js';
import { UserAgent } from './user-agent.js';

/**
 * The refresh tokens of a grant that a client could still use, judged from the stored
 * records the way the server judges them: not superseded, not expired, and nothing in
 * their successor slot (src/oidc/refresh-chain.ts).
 */
export async function liveRefreshTokens(store: ArtifactStore, grantId: string): Promise<ArtifactDoc[]> {
  const tokens = store.collection('RefreshToken');
  const docs = (await tokens.find({ grantId }).toArray()).filter((d) => !d.fence && !d.supersededAt);
  const held = new Set((await tokens.find({ parentId: { $in: docs.map((d) => d._id) } }).toArray()).map((d) => d.parentId));
  const now = Date.now();
  return docs.filter((d) => !held.has(d._id) && (!d.expiresAt || d.expiresAt.getTime() > now));
}

export async function grantOf(store: ArtifactStore, refreshToken: string): Promise<string> {
  const doc = await store.collection('RefreshToken').findOne({ _id: refreshToken });
  if (!doc?.grantId) throw new Error('no such refresh token');
  return doc.grantId;
}

/** An authorization code for offline access, not yet exchanged, with what its exchange needs. */
export async function offlineCode(rp: RegisteredClient, login: Credentials): Promise<Record<string, string>> {
  const verifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(rp.config, {
    redirect_uri: rp.redirectUri, scope: 'openid offline_access', prompt: 'consent',
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  const callback = new URL(await new UserAgent().authorize(url, rp.redirectUri, login));
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code in ${callback.href}`);
  return { grant_type: 'authorization_code', code, redirect_uri: rp.redirectUri, code_verifier: verifier };
}

/** One code exchange over HTTP: the status and, on success, the refresh token. */
export async function exchange(issuer: string, rp: RegisteredClient, form: Record<string, string>): Promise<{ status: number; refreshToken?: string; error?: string }> {
  const { status, body } = await postToken(issuer, rp, form);
  const fields = body as { refresh_token?: string; error?: string };
  return { status, refreshToken: fields.refresh_token, error: fields.error };
}
