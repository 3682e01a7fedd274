/** Upstream identity providers in the admin API's OpenAPI document. */
import { defaults } from '../../config/defaults.js';
import { body, bodyFailures, closed, date, idParam, int, missing, ok, op, ref, str, type Schema } from './openapi-parts.js';

const url: Schema = { type: 'string', maxLength: 2048, description: 'https in production' };
const path: Schema = { type: 'string', pattern: '^[\\w-]+(\\.[\\w-]+)*$', description: 'a dotted path into the userinfo answer, e.g. `id` or `user.email`' };
const claims = closed({ sub: path, email: path, email_verified: path, name: path, preferred_username: path }, ['sub']);
const common: Record<string, Schema> = {
  name: { type: 'string', minLength: 1, maxLength: 64, description: 'shown on the login page as "Continue with <name>" and in the ID token as `idp`' },
  logo_uri: url,
  enabled: { type: 'boolean', description: 'shown on the login page (default true)' },
  client_id: str,
};
const secret: Schema = { type: 'string', description: 'stored encrypted under KEY_ENCRYPTION_KEY, never returned' };
const oidcFields: Record<string, Schema> = {
  type: { const: 'oidc' }, issuer: { ...url, description: 'discovered at /.well-known/openid-configuration when saved' },
  scopes: { type: 'string', description: `space-separated, must include openid (default "${defaults.connectors.defaultOidcScopes}")` },
};
const oauth2Fields: Record<string, Schema> = {
  type: { const: 'oauth2' }, authorization_endpoint: url, token_endpoint: url, userinfo_endpoint: url,
  scopes: { type: 'string', description: 'space-separated (default none)' }, claims,
};
const stored = { id: str, redirect_uri: { ...str, description: 'register this redirect URI at the upstream provider' }, created_at: date, updated_at: date };
const storedRequired = ['id', 'type', 'name', 'enabled', 'client_id', 'scopes', 'redirect_uri', 'created_at', 'updated_at'];

export const connectorSchemas: Record<string, Schema> = {
  NewConnector: {
    oneOf: [
      closed({ ...common, client_secret: secret, ...oidcFields }, ['type', 'name', 'client_id', 'client_secret', 'issuer']),
      closed({ ...common, client_secret: secret, ...oauth2Fields }, ['type', 'name', 'client_id', 'client_secret', 'authorization_endpoint', 'token_endpoint', 'userinfo_endpoint']),
    ],
  },
  ConnectorPatch: closed({
    ...common, logo_uri: { type: ['string', 'null'] }, client_secret: secret, scopes: str,
    issuer: url, authorization_endpoint: url, token_endpoint: url, userinfo_endpoint: url, claims,
  }, []),
  Connector: {
    oneOf: [
      closed({ ...common, ...oidcFields, ...stored }, [...storedRequired, 'issuer']),
      closed({ ...common, ...oauth2Fields, ...stored }, [...storedRequired, 'authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'claims']),
    ],
  },
  ConnectorList: closed({ connectors: { type: 'array', items: ref('Connector') } }, ['connectors']),
  Identity: closed({
    id: str, connector_id: str, connector_name: { ...str, description: 'absent when the connector was removed' },
    sub: { ...str, description: "the user's id at the upstream provider" }, email: { ...str, description: 'as the upstream last said' },
    linked_at: date, last_sign_in_at: date,
  }, ['id', 'connector_id', 'sub', 'linked_at']),
  IdentityList: closed({ identities: { type: 'array', items: ref('Identity') } }, ['identities']),
  IdentityUnlinked: closed({ id: str }, ['id']),
  ConnectorDeleted: closed({ id: str, identities_removed: int }, ['id', 'identities_removed']),
};

export const connectorPaths = {
  '/users/{id}/identities': {
    parameters: [idParam('id')],
    get: op("The user's identities at upstream providers", { 200: ok('linked identities', 'IdentityList'), ...missing }),
  },
  '/users/{id}/identities/{identityId}': {
    parameters: [idParam('id'), idParam('identityId')],
    delete: op('Unlink an identity: its upstream user no longer signs in to this account', { 200: ok('unlinked', 'IdentityUnlinked'), ...missing }),
  },
  '/connectors': {
    post: op('Add an upstream identity provider; the answer names the redirect URI to register there', {
      201: ok('added', 'Connector'), ...bodyFailures,
    }, body('NewConnector')),
    get: op('List upstream identity providers (never their secrets)', { 200: ok('all of them', 'ConnectorList') }),
  },
  '/connectors/{id}': {
    parameters: [idParam('id')],
    get: op('Show an upstream identity provider', { 200: ok('the connector', 'Connector'), ...missing }),
    patch: op('Change an upstream identity provider (its type never changes); the result is checked as a whole', {
      200: ok('the changed connector', 'Connector'), ...missing, ...bodyFailures,
    }, body('ConnectorPatch')),
    delete: op('Remove an upstream identity provider and unlink every identity linked through it; the accounts stay', {
      200: ok('removed', 'ConnectorDeleted'), ...missing,
    }),
  },
};
