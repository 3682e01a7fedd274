import { errors, type Client, type KoaContextWithOIDC } from 'oidc-provider';

import { memoized } from '../http/request-memo.js';
import type { RegisteredApis, RegisteredResourceServer } from '../oidc/resources.js';
import type { ApiCatalog, CatalogSnapshot } from './catalog.js';
import type { ApiResourceRecord, RoleRecord } from './records.js';

/**
 * Which scopes of a registered API a token request may get, decided afresh at every
 * token issue (and at the authorization endpoint, so consent shows only those):
 * - a user, for an API with `rbac`: the scopes their roles grant; otherwise all of them;
 * - a client on its own (client_credentials): only what an operator granted it, and
 *   asking for more is `invalid_scope`.
 * oidc-provider then intersects this with what the user consented to and what was asked for.
 */
export class ApiAccess implements RegisteredApis {
  readonly #catalog: ApiCatalog;

  constructor(catalog: ApiCatalog) {
    this.#catalog = catalog;
  }

  async resourceServer(ctx: KoaContextWithOIDC, indicator: string, client: Client): Promise<RegisteredResourceServer | undefined> {
    const snapshot = await this.#catalog.current();
    const resource = snapshot.byIndicator.get(indicator);
    if (!resource) return undefined;
    const scopes = ctx.oidc.params?.grant_type === 'client_credentials'
      ? await this.#clientScopes(ctx, resource, client.clientId)
      : await this.#userScopes(ctx, snapshot, resource);
    return { scope: scopes.join(' '), ...(resource.access_token_ttl ? { accessTokenTTL: resource.access_token_ttl } : {}) };
  }

  /** `roles` in a user's access token for an API with `roles_claim`: their roles that grant any of its scopes. */
  async tokenClaims(token: { kind: string; accountId?: string; resourceServer?: { audience?: string } }): Promise<Record<string, unknown> | undefined> {
    const indicator = token.resourceServer?.audience;
    if (token.kind !== 'AccessToken' || !token.accountId || !indicator) return undefined;
    const snapshot = await this.#catalog.current();
    const resource = snapshot.byIndicator.get(indicator);
    if (!resource?.roles_claim) return undefined;
    const roles = await this.#rolesOf(snapshot, token.accountId);
    return { roles: roles.filter((role) => grantedBy([role], resource).length > 0).map((role) => role.name) };
  }

  async #userScopes(ctx: KoaContextWithOIDC, snapshot: CatalogSnapshot, resource: ApiResourceRecord): Promise<string[]> {
    if (!resource.rbac) return resource.scopes.map((scope) => scope.name);
    // At the token endpoint the account of the code or refresh token; at /authorize the
    // signed-in user. Before sign-in nothing is issued, so nothing is offered either.
    const accountId = ctx.oidc.account?.accountId ?? ctx.oidc.session?.accountId;
    if (!accountId) return [];
    return grantedBy(await this.#rolesOf(snapshot, accountId), resource);
  }

  async #clientScopes(ctx: KoaContextWithOIDC, resource: ApiResourceRecord, clientId: string): Promise<string[]> {
    const record = await this.#catalog.collections.clientGrants.findOne({ _id: clientId });
    const granted = new Set(record?.grants.find((grant) => grant.resource_id === resource._id)?.scopes);
    const allowed = resource.scopes.map((scope) => scope.name).filter((name) => granted.has(name));
    const requested = String(ctx.oidc.params?.scope ?? '').split(' ').filter(Boolean);
    const denied = requested.find((scope) => !allowed.includes(scope));
    if (denied !== undefined) throw new errors.InvalidScope('requested scope is not granted to this client for this resource', denied);
    return allowed;
  }

  /** The user's roles that still exist, read once per request (a role removed takes effect at the next token). */
  async #rolesOf(snapshot: CatalogSnapshot, accountId: string): Promise<RoleRecord[]> {
    const ids = await memoized(`account-roles:${accountId}`, async () =>
      (await this.#catalog.collections.accountRoles.findOne({ _id: accountId }))?.roles ?? []);
    return ids.flatMap((id) => snapshot.roles.get(id) ?? []);
  }
}

/** The scopes of `resource` (as it is defined now) that any of `roles` grants. */
export function grantedBy(roles: readonly RoleRecord[], resource: ApiResourceRecord): string[] {
  const granted = new Set(roles.flatMap((role) =>
    role.permissions.filter((permission) => permission.resource_id === resource._id).map((permission) => permission.scope)));
  return resource.scopes.map((scope) => scope.name).filter((name) => granted.has(name));
}
