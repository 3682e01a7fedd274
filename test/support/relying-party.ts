import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';
import type { ClientMetadata } from 'oidc-provider';

import { MongoAdapter } from '../../src/oidc/adapter.js';
import type { ArtifactStore } from '../../src/oidc/store.js';
import { UserAgent } from './user-agent.js';

/** Where registered test clients "live": nothing listens there unless a test says so. */
export const CALLBACK = 'http://127.0.0.1:1/callback';
export const AFTER_LOGOUT = 'http://127.0.0.1:1/signed-out';

export interface RegisteredClient {
  clientId: string;
  clientSecret: string | undefined;
  redirectUri: string;
  /** openid-client's view of this client against the test issuer (http allowed). */
  config: client.Configuration;
}

export interface Credentials {
  username: string;
  password: string;
}

/** openid-client discovery against the plain-http test issuer. */
export async function discover(
  issuer: string, clientId: string, metadata: Partial<client.ClientMetadata>, auth: client.ClientAuth,
): Promise<client.Configuration> {
  return client.discovery(new URL(issuer), clientId, metadata, auth, { execute: [client.allowInsecureRequests] });
}

/**
 * Registers a client the way an operator does (a Client record in MongoDB) and returns
 * the relying party for it. Public clients (`token_endpoint_auth_method: 'none'`) get no
 * secret; every other client gets a random one.
 */
export async function registerClient(
  server: { store: ArtifactStore; issuer: string },
  metadata: Partial<ClientMetadata> = {},
): Promise<RegisteredClient> {
  const clientId = metadata.client_id ?? `client-${randomBytes(4).toString('hex')}`;
  const isPublic = metadata.token_endpoint_auth_method === 'none';
  const clientSecret = isPublic ? undefined : (metadata.client_secret ?? randomBytes(24).toString('base64url'));
  const redirectUri = metadata.redirect_uris?.[0] ?? CALLBACK;
  const record: ClientMetadata = {
    client_name: `Test app ${clientId}`,
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: [AFTER_LOGOUT],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...metadata,
    client_id: clientId,
    ...(clientSecret ? { client_secret: clientSecret } : {}),
  };
  await new MongoAdapter(server.store, 'Client').upsert(clientId, record);

  const rpMetadata: Partial<client.ClientMetadata> = {
    redirect_uris: [redirectUri],
    ...(record.id_token_signed_response_alg ? { id_token_signed_response_alg: record.id_token_signed_response_alg } : {}),
  };
  const auth = isPublic ? client.None() : client.ClientSecretBasic(clientSecret);
  const config = await discover(server.issuer, clientId, rpMetadata, auth);
  return { clientId, clientSecret, redirectUri, config };
}

export interface CodeFlowOptions {
  scope?: string;
  /** Extra authorization request parameters (resource, prompt, …). */
  params?: Record<string, string>;
  /** Extra token request parameters. */
  tokenParams?: Record<string, string>;
  /** Signs in with these when the login form appears. */
  login?: Credentials;
  /** Reuses a browser session (cookies) across flows. */
  agent?: UserAgent;
  /** Binds the tokens to this DPoP key (RFC 9449). */
  dpop?: client.DPoPHandle;
}

export interface CodeFlowResult {
  tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;
  nonce: string;
  callbackUrl: URL;
  agent: UserAgent;
}

/** The authorization code flow with PKCE S256, state and nonce, walked by the UserAgent. */
export async function codeFlow(rp: RegisteredClient, options: CodeFlowOptions = {}): Promise<CodeFlowResult> {
  const agent = options.agent ?? new UserAgent();
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(rp.config, {
    redirect_uri: rp.redirectUri,
    scope: options.scope ?? 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...options.params,
  });
  const callbackUrl = new URL(await agent.authorize(url, rp.redirectUri, options.login));
  const tokens = await client.authorizationCodeGrant(
    rp.config, callbackUrl,
    { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true },
    options.tokenParams,
    options.dpop ? { DPoP: options.dpop } : undefined,
  );
  return { tokens, nonce, callbackUrl, agent };
}

/** A test user with a known password and the standard profile claims. */
export async function createUser(
  server: { accounts: { create(input: { username: string; password: string; name?: string; email?: string; emailVerified?: boolean }): Promise<{ _id: string }> } },
  overrides: Partial<Credentials> = {},
): Promise<Credentials & { sub: string; name: string; email: string }> {
  const username = overrides.username ?? `user-${randomBytes(3).toString('hex')}`;
  const password = overrides.password ?? `pw-${randomBytes(9).toString('base64url')}`;
  const name = `Test ${username}`;
  const email = `${username}@example.test`;
  const record = await server.accounts.create({ username, password, name, email, emailVerified: true });
  return { username, password, sub: record._id, name, email };
}

/** An authorization request left at the login form; its interaction lives in MongoDB. */
export async function openLoginForm(rp: RegisteredClient, agent = new UserAgent()): Promise<{ agent: UserAgent; uid: string; url: string }> {
  const url = client.buildAuthorizationUrl(rp.config, {
    redirect_uri: rp.redirectUri, scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256',
  });
  const step = await agent.follow(url, rp.redirectUri);
  const uid = /\/interaction\/([\w-]+)\//.exec(await step.res.text())?.[1];
  if (!uid) throw new Error(`no login form at ${step.url}`);
  return { agent, uid, url: step.url };
}
