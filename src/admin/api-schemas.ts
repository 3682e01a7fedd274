import { z } from 'zod';

import { OIDC_SCOPES } from '../../config/claims.js';
import { defaults } from '../../config/defaults.js';
import { pathId } from './schemas.js';

/** Request schemas of registered APIs, roles and client grants (docs/apis-and-roles.md). */

const { maxScopes, maxPermissions, maxRolesPerUser, maxAccessTokenTtl } = defaults.apis;

/** RFC 8707: an absolute URI without a fragment, exactly as oidc-provider accepts a `resource`. */
export const indicator = z.string().min(1).max(2048).refine((value) => {
  const href = URL.parse(value)?.href;
  return href !== undefined && !href.includes('#') && !/\s/.test(value);
}, 'must be an absolute URI without a fragment (RFC 8707)');

/** RFC 6749 §3.3 scope-token characters; OpenID Connect's own scopes are not an API's to define. */
export const scopeName = z.string().min(1).max(128)
  .regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'printable ASCII without spaces, quotes or backslashes (RFC 6749 §3.3)')
  .refine((name) => !OIDC_SCOPES.has(name), 'an OpenID Connect scope, not an API scope');

const apiScope = z.object({ name: scopeName, description: z.string().trim().min(1).max(256) }).strict();
const scopeList = z.array(apiScope).max(maxScopes, `at most ${maxScopes} scopes per API`)
  .refine((scopes) => new Set(scopes.map((scope) => scope.name)).size === scopes.length, 'scope names must be unique');
const apiName = z.string().trim().min(1).max(128);
const ttl = z.number().int().min(1).max(maxAccessTokenTtl);

export const newApiResource = z.object({
  indicator,
  name: apiName,
  scopes: scopeList.default([]),
  access_token_ttl: ttl.optional(),
  rbac: z.boolean().default(false),
  roles_claim: z.boolean().default(false),
}).strict();

/** `access_token_ttl: null` goes back to the server's access-token lifetime. The indicator never changes. */
export const apiResourcePatch = z.object({
  name: apiName.optional(),
  access_token_ttl: ttl.nullable().optional(),
  rbac: z.boolean().optional(),
  roles_claim: z.boolean().optional(),
}).strict();

export const scopesToAdd = z.object({ scopes: scopeList.refine((scopes) => scopes.length > 0, 'name at least one scope') }).strict();

const permission = z.object({ resource: indicator, scope: scopeName }).strict();
const roleName = z.string().trim().min(1).max(128);
const roleDescription = z.string().trim().max(512);
const permissions = z.array(permission).max(maxPermissions, `at most ${maxPermissions} permissions per role`);

export const newRole = z.object({ name: roleName, description: roleDescription.optional(), permissions: permissions.default([]) }).strict();
export const rolePatch = z.object({
  name: roleName.optional(), description: roleDescription.nullable().optional(), permissions: permissions.optional(),
}).strict();

export const userRoles = z.object({
  roles: z.array(pathId).max(maxRolesPerUser, `at most ${maxRolesPerUser} roles per user`),
}).strict();

export const clientResourceScopes = z.object({
  grants: z.array(z.object({ resource: indicator, scopes: z.array(scopeName).max(maxScopes) }).strict()).max(maxScopes),
}).strict();
