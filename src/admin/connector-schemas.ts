import { z } from 'zod';

import { defaults } from '../../config/defaults.js';

/** Request schemas of the upstream identity providers (docs/upstream-providers.md). */

const url = z.string().min(1).max(2048);
const jsonPath = z.string().min(1).max(256).regex(/^[\w-]+(\.[\w-]+)*$/, 'a dotted path such as "id" or "user.email"');
const scopes = z.string().trim().max(1024).regex(/^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/, 'space-separated scope names');

const common = {
  name: z.string().trim().min(1).max(64),
  logo_uri: url.optional(),
  enabled: z.boolean().default(true),
  client_id: z.string().min(1).max(512),
  client_secret: z.string().min(1).max(1024),
};

export const claimPaths = z.object({
  sub: jsonPath, email: jsonPath.optional(), email_verified: jsonPath.optional(), name: jsonPath.optional(), preferred_username: jsonPath.optional(),
}).strict();

const oidc = z.object({
  type: z.literal('oidc'), ...common, issuer: url, scopes: scopes.default(defaults.connectors.defaultOidcScopes),
}).strict().refine((input) => input.scopes.split(' ').includes('openid'), { path: ['scopes'], message: 'must include openid' });

const oauth2 = z.object({
  type: z.literal('oauth2'), ...common,
  authorization_endpoint: url, token_endpoint: url, userinfo_endpoint: url,
  scopes: scopes.or(z.literal('')).default(''),
  claims: claimPaths.default({ sub: 'id', email: 'email', name: 'name', preferred_username: 'login' }),
}).strict();

export const newConnector = z.discriminatedUnion('type', [oidc, oauth2]);

/** Every field but `type` may change; `logo_uri: null` removes the logo. The secret is kept unless given. */
export const connectorPatch = z.object({
  name: common.name.optional(),
  logo_uri: url.nullable().optional(),
  enabled: z.boolean().optional(),
  client_id: common.client_id.optional(),
  client_secret: common.client_secret.optional(),
  scopes: scopes.or(z.literal('')).optional(),
  issuer: url.optional(),
  authorization_endpoint: url.optional(),
  token_endpoint: url.optional(),
  userinfo_endpoint: url.optional(),
  claims: claimPaths.optional(),
}).strict();
