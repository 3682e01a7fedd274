import * as client from 'openid-client';

import { defaults } from '../../config/defaults.js';
import type { ClaimPaths, ConnectorRecord, UpstreamProfile } from './records.js';
import { redirectUriOf } from './records.js';

/** A connector as the upstream client needs it: the record with its secret unsealed. */
export interface UpstreamClient {
  connector: ConnectorRecord;
  secret: string;
}

/** An authorization request on its way to the upstream, and what its answer must match. */
export interface UpstreamRequest {
  url: URL;
  state: string;
  nonce: string;
  verifier: string;
}

/** Why an upstream answer was refused; the message is safe to show. */
export class UpstreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UpstreamError';
  }
}

const { discoveryCacheMs } = defaults.connectors;

/** How requests to upstreams leave the server (oidc-provider's guarded fetch, see src/connectors/index.ts). */
export type OutboundFetch = client.CustomFetch;

/**
 * The relying-party side of a connector, through openid-client: discovery (cached per
 * connector version), PKCE, state and nonce, ID token validation (iss, aud, exp, nonce,
 * signature against the issuer's JWKS) and the RFC 9207 `iss` response parameter.
 * Plain-http upstreams only outside production; every request goes through `fetch`.
 */
export class Upstreams {
  readonly #issuer: string;
  readonly #allowHttp: boolean;
  readonly #fetch: OutboundFetch;
  readonly #cache = new Map<string, { at: number; config: Promise<client.Configuration> }>();

  constructor(issuer: string, allowHttp: boolean, fetch: OutboundFetch) {
    this.#issuer = issuer;
    this.#allowHttp = allowHttp;
    this.#fetch = fetch;
  }

  /** Fetches the discovery document once, so a bad issuer is refused when it is registered. */
  async check(upstream: UpstreamClient): Promise<void> {
    await this.#build(upstream);
  }

  async begin(upstream: UpstreamClient): Promise<UpstreamRequest> {
    const config = await this.#configuration(upstream).catch(() => {
      throw new UpstreamError('The sign-in provider could not be reached. Try again later.');
    });
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const { connector } = upstream;
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUriOf(this.#issuer, connector._id),
      scope: connector.scopes,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      ...(connector.type === 'oidc' ? { nonce } : {}),
    });
    return { url, state, nonce, verifier };
  }

  /** Exchanges the code and reads the profile; anything wrong is an UpstreamError. */
  async finish(upstream: UpstreamClient, query: URLSearchParams, expected: Omit<UpstreamRequest, 'url'>): Promise<UpstreamProfile> {
    const config = await this.#configuration(upstream);
    const { connector } = upstream;
    const callback = new URL(redirectUriOf(this.#issuer, connector._id));
    callback.search = query.toString();
    try {
      const oidc = connector.type === 'oidc';
      const tokens = await client.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: expected.verifier, expectedState: expected.state,
        ...(oidc ? { expectedNonce: expected.nonce, idTokenExpected: true } : {}),
      });
      if (connector.type === 'oauth2') {
        const res = await client.fetchProtectedResource(config, tokens.access_token, new URL(connector.userinfo_endpoint), 'GET');
        if (!res.ok) throw new UpstreamError(`the provider's userinfo endpoint answered ${res.status}`);
        return mapProfile(await res.json() as unknown, connector.claims);
      }
      const idToken = tokens.claims()!;
      const userinfo = config.serverMetadata().userinfo_endpoint
        ? await client.fetchUserInfo(config, tokens.access_token, idToken.sub)
        : {};
      return mapProfile({ ...userinfo, ...idToken }, { sub: 'sub', email: 'email', email_verified: 'email_verified', name: 'name', preferred_username: 'preferred_username' });
    } catch (err) {
      throw asUpstreamError(err);
    }
  }

  #configuration(upstream: UpstreamClient): Promise<client.Configuration> {
    const key = `${upstream.connector._id}:${upstream.connector.updated_at.getTime()}`;
    const cached = this.#cache.get(key);
    if (cached && Date.now() - cached.at < discoveryCacheMs) return cached.config;
    const config = this.#build(upstream);
    // One entry per connector: an older version's configuration goes when a newer one is built.
    for (const old of this.#cache.keys()) if (old.startsWith(`${upstream.connector._id}:`)) this.#cache.delete(old);
    this.#cache.set(key, { at: Date.now(), config });
    config.catch(() => this.#cache.delete(key));
    return config;
  }

  async #build({ connector, secret }: UpstreamClient): Promise<client.Configuration> {
    const execute = this.#allowHttp ? [client.allowInsecureRequests] : [];
    if (connector.type === 'oidc') {
      return client.discovery(new URL(connector.issuer), connector.client_id, undefined, client.ClientSecretBasic(secret), {
        execute, [client.customFetch]: this.#fetch,
      });
    }
    const config = new client.Configuration({
      issuer: new URL(connector.authorization_endpoint).origin,
      authorization_endpoint: connector.authorization_endpoint,
      token_endpoint: connector.token_endpoint,
    }, connector.client_id, undefined, client.ClientSecretPost(secret));
    config[client.customFetch] = this.#fetch;
    for (const step of execute) step(config);
    return config;
  }
}

/** Reads a dotted path (`user.id`) with own-property lookups only. */
function at(source: unknown, path: string): unknown {
  let value = source;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string' && value.trim() !== '') return value.trim();
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

export function mapProfile(source: unknown, paths: ClaimPaths): UpstreamProfile {
  const sub = text(at(source, paths.sub));
  if (!sub) throw new UpstreamError(`the provider's answer has no user id at "${paths.sub}"`);
  const email = paths.email ? text(at(source, paths.email))?.toLowerCase() : undefined;
  return {
    sub,
    email,
    // Only an explicit true counts: an address the upstream never checked proves nothing.
    emailVerified: email !== undefined && paths.email_verified !== undefined && at(source, paths.email_verified) === true,
    name: paths.name ? text(at(source, paths.name)) : undefined,
    preferredUsername: paths.preferred_username ? text(at(source, paths.preferred_username)) : undefined,
  };
}

/** openid-client's errors name the check that failed (state, nonce, iss, signature); the upstream's own error is passed on. */
function asUpstreamError(err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  if (err instanceof client.AuthorizationResponseError) {
    return new UpstreamError(err.error === 'access_denied' ? 'You cancelled, or the provider refused the sign-in.' : `The provider answered: ${err.error}`);
  }
  if (err instanceof client.ResponseBodyError) return new UpstreamError(`The provider refused the code: ${err.error}`);
  // openid-client wraps oauth4webapi's error, which names the claim that failed (iss, aud, nonce, …).
  const cause = err instanceof Error ? err.cause : undefined;
  const message = cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err);
  return new UpstreamError(`The provider's answer failed a check: ${message}`);
}
