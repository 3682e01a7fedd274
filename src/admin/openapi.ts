/**
 * The admin API contract (OpenAPI 3.1). Tests validate real responses against the
 * schemas here, so the document and the code cannot drift apart unnoticed.
 */
import { defaults } from '../../config/defaults.js';
import { apiPaths, apiSchemas } from './openapi-apis.js';
import { connectorPaths, connectorSchemas } from './openapi-connectors.js';
import {
  body, bodyFailures, closed, date, failure, idParam, int, missing, nextOffset, ok, op, pageParams, ref, str, strings, type Schema,
} from './openapi-parts.js';
import { SIGNING_ALGS } from '../db/models/key-set.js';
import { GRANT_TYPES } from './schemas.js';

const { minLength, maxLength } = defaults.passwordPolicy;
const PASSWORD: Schema = {
  type: 'string', minLength, maxLength,
  description: 'not the username or email, not a commonly used password (400 names the rule broken)',
};

const clientFields: Record<string, Schema> = {
  client_name: str,
  application_type: { enum: ['web', 'native'] },
  redirect_uris: strings,
  post_logout_redirect_uris: strings,
  grant_types: { type: 'array', items: { enum: [...GRANT_TYPES] } },
  response_types: { type: 'array', items: { enum: ['code'] } },
  token_endpoint_auth_method: { enum: ['client_secret_basic', 'client_secret_post', 'none'] },
  scope: str,
  client_uri: str,
  backchannel_logout_uri: str,
  backchannel_logout_session_required: { type: 'boolean' },
  refresh_token_rotation: { type: 'boolean' },
  refresh_token_idle_ttl: { type: 'integer', minimum: 1 },
  refresh_token_absolute_ttl: { type: 'integer', minimum: 1 },
  refresh_token_grace_period: int,
  resource_server_audiences: { ...strings, description: 'APIs whose access tokens this (confidential) client may introspect' },
  require_verified_email: { type: 'boolean', description: 'users whose email is not verified are asked to verify it before consent' },
  id_token_signed_response_alg: { enum: [...SIGNING_ALGS], description: 'how this app\'s ID tokens are signed (default SIGNING_ALG)' },
  dpop_bound_access_tokens: { type: 'boolean', description: 'every token request must carry a DPoP proof (RFC 9449)' },
  require_pushed_authorization_requests: { type: 'boolean', description: 'authorization requests must be pushed first (RFC 9126)' },
  require_mfa: { type: 'boolean', description: 'users complete a second step at every sign-in to this app, setting one up first if they have none' },
};
const clientView = { ...clientFields, client_id: str, client_id_issued_at: int };

const userFields: Record<string, Schema> = {
  id: str, username: str, name: str, email: str, email_verified: { type: 'boolean' }, disabled: { type: 'boolean' },
  tokens_valid_after: { ...date, description: 'the cut-off: every session, grant, code and token from this instant (to the second) or before is void' },
  created_at: date, updated_at: date,
};
const userRequired = ['id', 'username', 'email_verified', 'disabled', 'created_at', 'updated_at'];

const keyStates = 'next: published, not signing yet; current: signs; previous: verifies only until retire_at; '
  + 'retired: gone after every token it signed expired; revoked: removed at once by an operator';

const schemas: Record<string, Schema> = {
  Error: closed({ error: str, error_description: str }, ['error', 'error_description']),
  NewClient: closed(clientFields, ['client_name']),
  ClientPatch: closed(clientFields, []),
  Client: closed(clientView, ['client_id', 'client_name']),
  ClientCreated: closed({ ...clientView, client_secret: { ...str, description: 'shown only in this response' } }, ['client_id', 'client_name']),
  ClientList: closed({ clients: { type: 'array', items: ref('Client') }, next_offset: nextOffset }, ['clients', 'next_offset']),
  ClientSecret: closed({ client_id: str, client_secret: str }, ['client_id', 'client_secret']),
  ClientDeleted: closed({ client_id: str, grants_revoked: int }, ['client_id', 'grants_revoked']),
  NewUser: closed({
    username: { type: 'string', pattern: '^[\\w.@+-]+$', maxLength: 128 },
    password: PASSWORD,
    email: { type: 'string', format: 'email' },
    name: str,
  }, ['username', 'password']),
  UserPatch: closed({
    name: { type: ['string', 'null'] },
    email: { type: ['string', 'null'], format: 'email', description: 'a new address is unverified until the user follows the link mailed to it' },
    password: { ...PASSWORD, description: `${PASSWORD.description}; a new password also signs the user out everywhere (a cut-off)` },
    disabled: { type: 'boolean', description: 'true also signs the user out everywhere (a cut-off)' },
  }, []),
  User: closed(userFields, userRequired),
  UserDetail: closed({
    ...userFields,
    two_step: { type: 'array', items: { enum: ['totp', 'recovery_codes'] }, description: 'the kinds of second step enrolled (never secrets)' },
  }, [...userRequired, 'two_step']),
  UserList: closed({ users: { type: 'array', items: ref('User') }, next_offset: nextOffset }, ['users', 'next_offset']),
  MfaReset: closed({
    id: str, factors_removed: { type: 'boolean', description: 'false when the user had no second step' }, revoked: ref('RevokeResult'),
  }, ['id', 'factors_removed', 'revoked']),
  UserDeleted: closed({ id: str, revoked: ref('RevokeResult') }, ['id', 'revoked']),
  Session: closed({ id: str, login_at: date, expires_at: date, amr: strings, clients: strings }, ['id', 'amr', 'clients']),
  SessionList: closed({ sessions: { type: 'array', items: ref('Session') } }, ['sessions']),
  Grant: closed({
    id: str, client_id: str, scopes: strings, resources: strings, created_at: date, expires_at: date, last_refresh_at: date,
  }, ['id', 'client_id', 'scopes', 'resources', 'created_at']),
  GrantList: closed({ grants: { type: 'array', items: ref('Grant') } }, ['grants']),
  RevokeRequest: closed({ client_id: { ...str, description: 'limit the revocation to this app' } }, []),
  RevokeResult: closed({
    sessions_ended: int, sessions_updated: int, grants_revoked: int, artifacts_deleted: int,
    backchannel_logouts_sent: int, backchannel_logouts_failed: int,
  }, ['sessions_ended', 'sessions_updated', 'grants_revoked', 'artifacts_deleted', 'backchannel_logouts_sent', 'backchannel_logouts_failed']),
  GrantRevoked: closed({ grant_id: str, artifacts_deleted: int }, ['grant_id', 'artifacts_deleted']),
  Key: closed({
    kid: str,
    use: { enum: ['sig', 'cookie'], description: 'sig: signs ID tokens and JWT access tokens; cookie: signs our cookies' },
    alg: { enum: [...SIGNING_ALGS], description: 'signing keys only' },
    state: { enum: ['next', 'current', 'previous', 'retired', 'revoked'], description: keyStates },
    source: { enum: ['generated', 'imported'] },
    created_at: { ...date, description: 'when the key was published (or, for a first key, began signing)' },
    ready_at: { ...date, description: 'next keys: the earliest moment a rotation may make it sign' },
    activated_at: date,
    deactivated_at: date,
    retire_at: { ...date, description: 'previous keys: when the key leaves the key set' },
    ended_at: { ...date, description: 'when the key was retired or revoked' },
  }, ['kid', 'use', 'state', 'source', 'created_at']),
  KeyList: closed({ keys: { type: 'array', items: ref('Key') } }, ['keys']),
  NewInitialAccessToken: closed({
    expires_in: { type: 'integer', minimum: 1, description: `seconds; default ${defaults.protocols.initialAccessTokenTtl}` },
    max_uses: { type: 'integer', minimum: 1, maximum: 10_000, default: 1, description: 'how many clients it may register' },
  }, []),
  InitialAccessToken: closed({
    initial_access_token: { ...str, description: 'shown only in this response; the developer sends it as a Bearer token to the registration endpoint' },
    expires_at: date, max_uses: int,
  }, ['initial_access_token', 'expires_at', 'max_uses']),
  InitialAccessTokenRevocation: closed({ initial_access_token: str }, ['initial_access_token']),
  InitialAccessTokenRevoked: closed({ revoked: { type: 'boolean' } }, ['revoked']),
  RotateRequest: closed({
    alg: { enum: [...SIGNING_ALGS], description: 'rotate only this signing algorithm' },
    use: { enum: ['sig', 'cookie'], description: 'rotate all signing keys, or the cookie keys' },
  }, []),
  Rotated: closed({
    rotated: { type: 'array', items: closed({ use: { enum: ['sig', 'cookie'] }, alg: str, kid: str, replaced: str }, ['use', 'kid', 'replaced']) },
    keys: { type: 'array', items: ref('Key') },
  }, ['rotated', 'keys']),
  KeyRevoked: closed({
    kid: str,
    replaced_by: { ...str, description: 'the key that signs now, when the revoked key was signing' },
    keys: { type: 'array', items: ref('Key') },
  }, ['kid', 'keys']),
};


export function openApiDocument(issuer: string) {
  return {
    openapi: '3.1.0',
    info: { title: 'Admin API', version: '1.0.0', description: 'Manage apps, users, sessions, grants, signing keys, APIs, roles and upstream identity providers of this authorization server.' },
    servers: [{ url: `${issuer}/admin` }],
    security: [{ adminToken: ['admin'] }],
    components: {
      schemas: { ...schemas, ...apiSchemas, ...connectorSchemas },
      securitySchemes: {
        adminToken: {
          type: 'oauth2',
          description: 'JWT access token of the admin client (client_credentials, scope admin).',
          flows: { clientCredentials: { tokenUrl: `${issuer}/token`, scopes: { admin: 'manage this server' } } },
        },
      },
    },
    paths: {
      '/clients': {
        post: op('Register an app', { 201: ok('registered; the secret is shown only here', 'ClientCreated'), ...bodyFailures }, body('NewClient')),
        get: op('List apps', { 200: ok('one page', 'ClientList'), 400: failure('bad paging') }, { parameters: pageParams }),
      },
      '/clients/{id}': {
        parameters: [idParam('id')],
        get: op('Show an app (never its secret)', { 200: ok('the app', 'Client'), ...missing }),
        patch: op('Change an app; the result is validated as a whole', {
          200: ok('the changed app; a secret only when the change issued one', 'ClientCreated'), ...missing, ...bodyFailures,
        }, body('ClientPatch')),
        delete: op('Delete an app and revoke its grants', { 200: ok('deleted', 'ClientDeleted'), ...missing }),
      },
      '/clients/{id}/secret': {
        parameters: [idParam('id')],
        post: op('Rotate the secret; the old one stops working at once', {
          200: ok('the new secret, shown only here', 'ClientSecret'), 400: failure('public client'), ...missing,
        }),
      },
      '/users': {
        post: op('Create a user', { 201: ok('created', 'User'), 409: failure('username or email (case-insensitively) taken'), ...bodyFailures }, body('NewUser')),
        get: op('List users', { 200: ok('one page', 'UserList'), 400: failure('bad query') }, {
          parameters: [...pageParams, { name: 'username_prefix', in: 'query', schema: str }],
        }),
      },
      '/users/{id}': {
        parameters: [idParam('id')],
        get: op('Show a user, with the kinds of second step enrolled', { 200: ok('the user', 'UserDetail'), ...missing }),
        patch: op('Change a user; disabling signs them out everywhere', {
          200: ok('the changed user', 'User'), ...missing, ...bodyFailures, 409: failure('email already used by another user'),
        }, body('UserPatch')),
        delete: op('Revoke everything, then delete the user', { 200: ok('deleted', 'UserDeleted'), ...missing }),
      },
      '/users/{id}/mfa': {
        parameters: [idParam('id')],
        delete: op('Remove every second step (a user who lost them all); signs the user out everywhere', {
          200: ok('removed', 'MfaReset'), ...missing,
        }),
      },
      '/users/{id}/sessions': {
        parameters: [idParam('id')],
        get: op("The user's live sessions", { 200: ok('sessions', 'SessionList'), ...missing }),
      },
      '/users/{id}/grants': {
        parameters: [idParam('id')],
        get: op("The user's grants (one per app)", { 200: ok('grants', 'GrantList'), ...missing }),
      },
      '/users/{id}/revoke': {
        parameters: [idParam('id')],
        post: op('Sign the user out everywhere (or out of one app)', {
          200: ok('what was ended', 'RevokeResult'), ...missing, ...bodyFailures,
        }, body('RevokeRequest', false)),
      },
      '/grants/{grantId}': {
        parameters: [idParam('grantId')],
        delete: op('Revoke one grant with its tokens', { 200: ok('revoked', 'GrantRevoked'), ...missing }),
      },
      '/keys': {
        get: op('Signing and cookie keys with their states and dates (never key material)', { 200: ok('all keys', 'KeyList') }),
      },
      '/keys/rotate': {
        post: op('Rotate: each next key starts signing, current keys verify until retired, new next keys are published', {
          200: ok('rotated', 'Rotated'),
          409: failure('not_ready: a next key is not yet published long enough; conflict: another rotation got there first'),
          ...bodyFailures,
        }, body('RotateRequest', false)),
      },
      '/keys/{kid}/revoke': {
        parameters: [idParam('kid')],
        post: op('Emergency: remove a compromised key at once; tokens it signed stop verifying', {
          200: ok('revoked', 'KeyRevoked'), ...missing, 409: failure('the key is already retired or revoked'),
        }),
      },
      ...apiPaths,
      ...connectorPaths,
      '/initial-access-tokens': {
        post: op('Create an initial access token for dynamic client registration (RFC 7591)', {
          201: ok('created; the token is shown only here', 'InitialAccessToken'),
          409: failure('dynamic client registration is off (DYNAMIC_REGISTRATION)'), ...bodyFailures,
        }, body('NewInitialAccessToken', false)),
      },
      '/initial-access-tokens/revoke': {
        post: op('Revoke an initial access token; clients it registered stay', {
          200: ok('revoked', 'InitialAccessTokenRevoked'), ...missing, ...bodyFailures,
        }, body('InitialAccessTokenRevocation')),
      },
      '/openapi.json': {
        get: { summary: 'This document', security: [], responses: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': {} } } } },
      },
    },
  };
}
