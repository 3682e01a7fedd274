/**
 * The account API contract (OpenAPI 3.1), served at /account/api/openapi.json. Tests
 * validate real responses against it, like the admin API's.
 */
import { defaults } from '../../config/defaults.js';

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const str: Schema = { type: 'string' };
const date: Schema = { type: 'string', format: 'date-time' };
const strings: Schema = { type: 'array', items: str };
const closed = (properties: Record<string, Schema>, required: string[]): Schema => (
  { type: 'object', additionalProperties: false, properties, required }
);

const schemas: Record<string, Schema> = {
  Error: closed({ error: str, error_description: str }, ['error', 'error_description']),
  Grant: closed({
    id: str, client_id: str, client_name: str, client_uri: str,
    scopes: { ...strings, description: 'OpenID scopes granted' },
    apis: { ...strings, description: 'API access granted, as "<audience>: <scopes>"' },
    created_at: { ...date, description: 'first authorized' },
    last_used_at: { ...date, description: 'newest token issued under this grant (code exchange or refresh)' },
  }, ['id', 'client_id', 'client_name', 'scopes', 'apis', 'created_at']),
  GrantList: closed({ grants: { type: 'array', items: ref('Grant') } }, ['grants']),
  Session: closed({
    id: str, device: { ...str, description: 'browser and system, from the user agent' }, ip: str,
    signed_in_at: date, last_active_at: date,
    acr: { ...str, description: 'how it signed in: the multi-factor URI after a second step' },
    amr: { type: 'array', items: str, description: 'RFC 8176 methods, e.g. pwd, otp, mfa' },
  }, ['id', 'device']),
  SessionList: closed({ sessions: { type: 'array', items: ref('Session') } }, ['sessions']),
};

const json = (schema: Schema) => ({ content: { 'application/json': { schema } } });
const ok = (description: string, name: string) => ({ description, ...json(ref(name)) });
const failure = (description: string) => ({ description, ...json(ref('Error')) });
const authFailures = {
  401: failure('missing, invalid, expired or revoked access token'),
  403: failure(`the token lacks the ${defaults.account.scope} scope or is for another API`),
};
const gone = { 404: failure("no such id for this user (stale, or another user's)") };
const idParam = { name: 'id', in: 'path', required: true, schema: str };
const removed = { 204: { description: 'done; the same id again answers 404' } };

function op(summary: string, responses: Record<string, unknown>) {
  return { summary, responses: { ...responses, ...authFailures } };
}

export function accountApiDocument(issuer: string) {
  const scope = defaults.account.scope;
  return {
    openapi: '3.1.0',
    info: {
      title: 'Account API', version: '1.0.0',
      description: "The signed-in user's apps and devices, for first-party apps: what the account center at /account shows.",
    },
    servers: [{ url: `${issuer}/account/api` }],
    security: [{ accountToken: [scope] }],
    components: {
      schemas,
      securitySchemes: {
        accountToken: {
          type: 'oauth2',
          description: `JWT access token for the resource ${issuer}/account with scope ${scope}; only first-party clients may ask for it.`,
          flows: {
            authorizationCode: {
              authorizationUrl: `${issuer}/auth`, tokenUrl: `${issuer}/token`,
              scopes: { [scope]: "see and end the user's app access and sessions" },
            },
          },
        },
      },
    },
    paths: {
      '/grants': { get: op('Apps with access to the account', { 200: ok('one per grant', 'GrantList') }) },
      '/grants/{id}': {
        parameters: [idParam],
        delete: op("Remove an app's access: its tokens end and it gets a back-channel logout", { ...removed, ...gone }),
      },
      '/sessions': { get: op('Browser sessions signed in to the account', { 200: ok('live sessions', 'SessionList') }) },
      '/sessions/{id}': {
        parameters: [idParam],
        delete: op('Sign one browser session out', { ...removed, ...gone }),
      },
      '/openapi.json': {
        get: { summary: 'This document', security: [], responses: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': {} } } } },
      },
    },
  };
}
