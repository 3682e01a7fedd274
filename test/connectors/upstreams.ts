import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type AccountClaims } from 'oidc-provider';

import { freePort } from '../support/server.js';

/** Who the upstream signs in next; tests set it before each round trip. */
export interface UpstreamUser {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  preferred_username?: string;
}

export interface OidcUpstream {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The redirect URI our connector registered; set after the connector exists. */
  allowRedirect(uri: string): Promise<void>;
  user: UpstreamUser;
  close(): Promise<void>;
}

/**
 * A bare oidc-provider as the upstream OpenID Connect provider, on loopback: one client,
 * `user` is whoever signs in (no form), consent given in advance.
 */
export async function startOidcUpstream(): Promise<OidcUpstream> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = `ours-${randomBytes(3).toString('hex')}`;
  const clientSecret = randomBytes(24).toString('base64url');
  const redirectUris: string[] = [];
  const state = { user: { sub: 'nobody' } as UpstreamUser };
  // Rebuilt whenever a redirect URI is added (static clients); the listener stays.
  const build = () => {
    const provider = new Provider(issuer, {
      clients: [{
        client_id: clientId, client_secret: clientSecret, redirect_uris: [...redirectUris], response_types: ['code'], grant_types: ['authorization_code'],
      }],
      findAccount: (_ctx, sub) => ({
        accountId: sub,
        claims: async (): Promise<AccountClaims> => ({ ...(sub === state.user.sub ? state.user : {}), sub }),
      }),
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
      features: { devInteractions: { enabled: false } },
      pkce: { required: () => true },
      ttl: { Interaction: 600, Grant: 600, Session: 600, AccessToken: 600, AuthorizationCode: 60, IdToken: 600 },
      loadExistingGrant: async (ctx) => {
        const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
        grant.addOIDCScope('openid profile email');
        await grant.save();
        return grant;
      },
    });
    provider.use(async (ctx, next) => {
      if (!ctx.path.startsWith('/interaction/')) return next();
      await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: state.user.sub } }, { mergeWithLastSubmission: false });
    });
    return provider.callback();
  };
  let handler = build();
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    issuer, clientId, clientSecret,
    async allowRedirect(uri: string) {
      redirectUris.push(uri);
      handler = build();
    },
    get user() { return state.user; },
    set user(user) { state.user = user; },
    close: () => closeServer(server),
  };
}

export interface OAuth2Upstream {
  base: string;
  clientId: string;
  clientSecret: string;
  /** GitHub's /user shape: a numeric id, login, name, email (null when private). */
  user: { id: number; login: string; name?: string; email: string | null };
  close(): Promise<void>;
}

/** A GitHub-style OAuth 2.0 provider (no OpenID Connect): authorize, access_token, /user. */
export async function startOAuth2Upstream(): Promise<OAuth2Upstream> {
  const clientId = `gh-${randomBytes(3).toString('hex')}`;
  const clientSecret = randomBytes(20).toString('hex');
  const codes = new Map<string, { user: OAuth2Upstream['user']; challenge: string; redirectUri: string }>();
  const tokens = new Map<string, OAuth2Upstream['user']>();
  const upstream = { user: { id: 1, login: 'nobody', email: null } as OAuth2Upstream['user'] };
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url!, 'http://upstream');
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') {
      const code = randomBytes(16).toString('hex');
      const redirectUri = url.searchParams.get('redirect_uri')!;
      codes.set(code, { user: upstream.user, challenge: url.searchParams.get('code_challenge') ?? '', redirectUri });
      const back = new URL(redirectUri);
      back.search = new URLSearchParams({ code, state: url.searchParams.get('state') ?? '' }).toString();
      return res.writeHead(302, { location: back.href }).end();
    }
    if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') {
      const form = new URLSearchParams(await readBody(req));
      const grant = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      const verifier = form.get('code_verifier') ?? '';
      if (form.get('client_id') !== clientId || form.get('client_secret') !== clientSecret) return json(401, { error: 'invalid_client' });
      if (!grant || grant.redirectUri !== form.get('redirect_uri') || createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) {
        return json(400, { error: 'bad_verification_code' });
      }
      const token = randomBytes(16).toString('hex');
      tokens.set(token, grant.user);
      return json(200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
    }
    if (req.method === 'GET' && url.pathname === '/user') {
      const user = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /i, ''));
      return user ? json(200, user) : json(401, { message: 'Bad credentials' });
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`, clientId, clientSecret,
    get user() { return upstream.user; },
    set user(user) { upstream.user = user; },
    close: () => closeServer(server),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
