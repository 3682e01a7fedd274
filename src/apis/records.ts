import { randomBytes } from 'node:crypto';
import type { Collection, Connection } from 'mongoose';

/** One scope of an API and the words the consent page and the account center show for it. */
export interface ApiScope {
  name: string;
  description: string;
}

/** A registered API: its resource indicator is the `aud` of the access tokens issued for it. */
export interface ApiResourceRecord {
  _id: string;
  indicator: string;
  name: string;
  scopes: ApiScope[];
  /** Seconds; absent: the server's access-token lifetime (ACCESS_TOKEN_TTL). */
  access_token_ttl?: number;
  /** Users get its scopes only through their roles. */
  rbac: boolean;
  /** Access tokens for it carry the user's roles that grant any of its scopes. */
  roles_claim: boolean;
  /** Bumped by every write: a write names the revision it read, so concurrent edits cannot lose one another. */
  revision: number;
  created_at: Date;
  updated_at: Date;
}

/** A permission names the API by id: one deleted and registered again starts with no permissions. */
export interface Permission {
  resource_id: string;
  scope: string;
}

export interface RoleRecord {
  _id: string;
  name: string;
  description?: string;
  permissions: Permission[];
  created_at: Date;
  updated_at: Date;
}

/** The roles of one user (by account id); kept beside the account, not in it. */
export interface AccountRolesRecord {
  _id: string;
  roles: string[];
}

export interface ClientScopeGrant {
  resource_id: string;
  scopes: string[];
}

/** What one client may get with client_credentials, per API. */
export interface ClientGrantsRecord {
  _id: string;
  grants: ClientScopeGrant[];
}

/** Every change to APIs, roles or client grants increments `version`; instances poll it. */
export interface CatalogStateRecord {
  _id: 'catalog';
  version: number;
  /** Indicators of API_AUDIENCE values already registered on a start, so a deleted one stays deleted. */
  imported?: string[];
}

export interface ApiCollections {
  resources: Collection<ApiResourceRecord>;
  roles: Collection<RoleRecord>;
  accountRoles: Collection<AccountRolesRecord>;
  clientGrants: Collection<ClientGrantsRecord>;
  state: Collection<CatalogStateRecord>;
}

export function apiCollections(connection: Connection): ApiCollections {
  return {
    resources: connection.collection<ApiResourceRecord>('api_resources'),
    roles: connection.collection<RoleRecord>('roles'),
    accountRoles: connection.collection<AccountRolesRecord>('account_roles'),
    clientGrants: connection.collection<ClientGrantsRecord>('client_resource_scopes'),
    state: connection.collection<CatalogStateRecord>('api_catalog_state'),
  };
}

export async function ensureApiIndexes(collections: ApiCollections): Promise<void> {
  // Unique: two concurrent registrations of one indicator (or role name) cannot both win.
  await collections.resources.createIndex({ indicator: 1 }, { unique: true });
  await collections.roles.createIndex({ name: 1 }, { unique: true });
  await collections.accountRoles.createIndex({ roles: 1 });
}

export function newId(): string {
  return randomBytes(12).toString('base64url');
}

export function isDuplicateKey(err: unknown): boolean {
  return (err as { code?: unknown }).code === 11000;
}
