import { z } from 'zod';

import { SIGNING_ALGS } from '../db/models/key-set.js';
import { emailField, nameField, passwordField, usernameField } from '../oidc/account-fields.js';

/** Request schemas of the admin API. `.strict()` everywhere: an unknown field is a mistake
 * worth reporting, and only plain strings/numbers/booleans ever reach MongoDB. */

const uri = z.string().min(1).max(2048);

/** The grants an operator may give a client; the device grant by its RFC 8628 URN. */
export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code'] as const;
const uris = z.array(uri).max(20);
const seconds = z.number().int().positive();

/** What an operator may set when registering an app; oidc-provider's own client schema
 * then checks the combination (redirect URIs per application type, auth methods, ...). */
export const clientMetadata = z.object({
  client_name: z.string().min(1).max(256),
  application_type: z.enum(['web', 'native']).optional(),
  redirect_uris: uris.optional(),
  post_logout_redirect_uris: uris.optional(),
  grant_types: z.array(z.enum(GRANT_TYPES)).min(1).optional(),
  response_types: z.array(z.enum(['code'])).optional(),
  token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post', 'none']).optional(),
  scope: z.string().max(1024).optional(),
  client_uri: uri.optional(),
  backchannel_logout_uri: uri.optional(),
  backchannel_logout_session_required: z.boolean().optional(),
  refresh_token_rotation: z.boolean().optional(),
  refresh_token_idle_ttl: seconds.optional(),
  refresh_token_absolute_ttl: seconds.optional(),
  refresh_token_grace_period: z.number().int().min(0).optional(),
  /** The APIs (audiences) whose access tokens this client may introspect as their resource server. */
  resource_server_audiences: z.array(uri).max(20).optional(),
  /** Users without a verified email are asked to verify it before consent to this app. */
  require_verified_email: z.boolean().optional(),
  id_token_signed_response_alg: z.enum(SIGNING_ALGS).optional(),
  /** Every access token of this client must be DPoP-bound (RFC 9449 §5.2). */
  dpop_bound_access_tokens: z.boolean().optional(),
  /** Authorization requests of this client must be pushed first (RFC 9126 §6). */
  require_pushed_authorization_requests: z.boolean().optional(),
  /** Users of this app complete a second step at every sign-in (and set one up first). */
  require_mfa: z.boolean().optional(),
}).strict();
export type ClientMetadataInput = z.infer<typeof clientMetadata>;

/** An update names only the fields it changes; the result is validated as a whole. */
export const clientPatch = clientMetadata.partial().strict();

const username = usernameField;
const password = passwordField;
const email = emailField;
const name = nameField;

export const newUser = z.object({ username, password, email: email.optional(), name: name.optional() }).strict();
export type NewUserInput = z.infer<typeof newUser>;

/** `null` clears an optional field. */
export const userPatch = z.object({
  name: name.nullable().optional(),
  email: email.nullable().optional(),
  password: password.optional(),
  disabled: z.boolean().optional(),
}).strict();
export type UserPatchInput = z.infer<typeof userPatch>;

export const page = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  offset: z.coerce.number().int().min(0).max(100_000).default(0),
}).strict();

export const userQuery = page.extend({ username_prefix: z.string().min(1).max(128).optional() }).strict();

export const revokeRequest = z.object({ client_id: z.string().min(1).max(256).optional() }).strict();

/** Ids in paths are opaque strings we generated; anything longer is not one of ours. */
export const pathId = z.string().min(1).max(256);

/** Which keys to rotate: one algorithm, all signing keys (`use: sig`), the cookie keys, or (empty) all. */
export const rotateRequest = z.object({
  alg: z.enum(SIGNING_ALGS).optional(),
  use: z.enum(['sig', 'cookie']).optional(),
}).strict().refine((body) => !(body.alg && body.use === 'cookie'), 'alg only applies to signing keys (use: sig)');

/** An initial access token for dynamic client registration: how long, and how many registrations. */
export const initialAccessTokenRequest = z.object({
  expires_in: seconds.max(365 * 24 * 60 * 60).optional(),
  max_uses: z.number().int().min(1).max(10_000).default(1),
}).strict();

export const initialAccessTokenRevocation = z.object({ initial_access_token: z.string().min(1).max(256) }).strict();
