/** The registered APIs, roles and client grants in the admin API's OpenAPI document. */
import { defaults } from '../../config/defaults.js';
import {
  body, bodyFailures, closed, date, failure, idParam, missing, nextOffset, ok, op, pageParams, ref, str, strings, type Schema,
} from './openapi-parts.js';

const { maxScopes, maxPermissions, maxRolesPerUser, maxAccessTokenTtl } = defaults.apis;
const indicator: Schema = { type: 'string', format: 'uri', description: 'resource indicator (RFC 8707): the `aud` of access tokens for this API' };
const scopeName: Schema = { type: 'string', pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$', maxLength: 128 };
const scope = closed({ name: scopeName, description: { ...str, description: 'what the consent page and the account center show' } }, ['name', 'description']);
const scopes: Schema = { type: 'array', items: scope, maxItems: maxScopes };
const ttl: Schema = { type: 'integer', minimum: 1, maximum: maxAccessTokenTtl, description: 'seconds; default ACCESS_TOKEN_TTL' };
const rbac: Schema = { type: 'boolean', description: "users get this API's scopes only through their roles" };
const rolesClaim: Schema = { type: 'boolean', description: "user tokens carry `roles`: the user's roles granting any of this API's scopes" };
const permission = closed({ resource: indicator, scope: scopeName }, ['resource', 'scope']);
const permissions: Schema = { type: 'array', items: permission, maxItems: maxPermissions };
const conflict = (what: string) => ({ 409: failure(what) });

export const apiSchemas: Record<string, Schema> = {
  NewApiResource: closed({ indicator, name: str, scopes, access_token_ttl: ttl, rbac, roles_claim: rolesClaim }, ['indicator', 'name']),
  ApiResourcePatch: closed({ name: str, access_token_ttl: { ...ttl, type: ['integer', 'null'] }, rbac, roles_claim: rolesClaim }, []),
  ApiResource: closed({
    id: str, indicator, name: str, scopes, access_token_ttl: ttl, rbac, roles_claim: rolesClaim, created_at: date, updated_at: date,
  }, ['id', 'indicator', 'name', 'scopes', 'rbac', 'roles_claim', 'created_at', 'updated_at']),
  ApiResourceList: closed({ resources: { type: 'array', items: ref('ApiResource') }, next_offset: nextOffset }, ['resources', 'next_offset']),
  ApiResourceDeleted: closed({ id: str, indicator }, ['id', 'indicator']),
  ScopesToAdd: closed({ scopes: { ...scopes, minItems: 1 } }, ['scopes']),
  NewRole: closed({ name: str, description: str, permissions }, ['name']),
  RolePatch: closed({ name: str, description: { type: ['string', 'null'] }, permissions }, []),
  Role: closed({ id: str, name: str, description: str, permissions, created_at: date, updated_at: date }, ['id', 'name', 'permissions', 'created_at', 'updated_at']),
  RoleList: closed({ roles: { type: 'array', items: ref('Role') }, next_offset: nextOffset }, ['roles', 'next_offset']),
  RoleDeleted: closed({ id: str }, ['id']),
  RoleUsers: closed({ users: { type: 'array', items: closed({ id: str, username: str }, ['id', 'username']) }, next_offset: nextOffset }, ['users', 'next_offset']),
  UserRolesUpdate: closed({ roles: { ...strings, maxItems: maxRolesPerUser, description: 'role ids; replaces the user\'s roles' } }, ['roles']),
  UserRoles: closed({ roles: { type: 'array', items: ref('Role') } }, ['roles']),
  ClientResourceScopes: closed({
    client_id: str,
    grants: { type: 'array', items: closed({ resource: indicator, scopes: { type: 'array', items: scopeName } }, ['resource', 'scopes']) },
  }, ['client_id', 'grants']),
  ClientResourceScopesUpdate: closed({
    grants: { type: 'array', items: closed({ resource: indicator, scopes: { type: 'array', items: scopeName } }, ['resource', 'scopes']) },
  }, ['grants']),
};

export const apiPaths = {
  '/resources': {
    post: op('Register an API', {
      201: ok('registered', 'ApiResource'), ...bodyFailures, ...conflict('an API with this indicator is already registered'),
    }, body('NewApiResource')),
    get: op('List APIs', { 200: ok('one page', 'ApiResourceList'), 400: failure('bad paging') }, { parameters: pageParams }),
  },
  '/resources/{id}': {
    parameters: [idParam('id')],
    get: op('Show an API', { 200: ok('the API', 'ApiResource'), ...missing }),
    patch: op('Change an API (its indicator never changes)', { 200: ok('the changed API', 'ApiResource'), ...missing, ...bodyFailures }, body('ApiResourcePatch')),
    delete: op('Delete an API: no token is issued for it any more; roles and grants of it lapse', {
      200: ok('deleted', 'ApiResourceDeleted'), ...missing,
    }),
  },
  '/resources/{id}/scopes': {
    parameters: [idParam('id')],
    post: op('Add scopes (or reword existing ones)', {
      200: ok('the changed API', 'ApiResource'), ...missing, ...bodyFailures, ...conflict('the API kept changing concurrently'),
    }, body('ScopesToAdd')),
  },
  '/resources/{id}/scopes/{name}': {
    parameters: [idParam('id'), idParam('name')],
    delete: op('Remove a scope: the next token issued without it', {
      200: ok('the changed API', 'ApiResource'), ...missing, ...conflict('the API kept changing concurrently'),
    }),
  },
  '/roles': {
    post: op('Create a role', { 201: ok('created', 'Role'), ...bodyFailures, ...conflict('a role with this name exists') }, body('NewRole')),
    get: op('List roles', { 200: ok('one page', 'RoleList'), 400: failure('bad paging') }, { parameters: pageParams }),
  },
  '/roles/{id}': {
    parameters: [idParam('id')],
    get: op('Show a role', { 200: ok('the role', 'Role'), ...missing }),
    patch: op('Change a role; its users\' next tokens follow', {
      200: ok('the changed role', 'Role'), ...missing, ...bodyFailures, ...conflict('a role with this name exists'),
    }, body('RolePatch')),
    delete: op('Delete a role; it grants nothing from the next token on', { 200: ok('deleted', 'RoleDeleted'), ...missing }),
  },
  '/roles/{id}/users': {
    parameters: [idParam('id')],
    get: op('The users who have the role', { 200: ok('one page', 'RoleUsers'), ...missing, 400: failure('bad paging') }, { parameters: pageParams }),
  },
  '/users/{id}/roles': {
    parameters: [idParam('id')],
    get: op("The user's roles", { 200: ok('roles', 'UserRoles'), ...missing }),
    put: op("Replace the user's roles; applies at their next token, refreshes included", {
      200: ok('the roles now', 'UserRoles'), ...missing, ...bodyFailures,
    }, body('UserRolesUpdate')),
  },
  '/clients/{id}/resource-scopes': {
    parameters: [idParam('id')],
    get: op('What the client may get with client_credentials', { 200: ok('grants', 'ClientResourceScopes'), ...missing }),
    put: op('Replace what the client may get with client_credentials; anything else it asks for is invalid_scope', {
      200: ok('grants', 'ClientResourceScopes'), ...missing, ...bodyFailures,
    }, body('ClientResourceScopesUpdate')),
  },
};
