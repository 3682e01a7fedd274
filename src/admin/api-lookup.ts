import type { ApiCollections, ApiResourceRecord } from '../apis/records.js';
import { AdminError } from './http.js';

/**
 * Registered APIs read from MongoDB, not through the token path's cache: an operator's
 * request sees every change made before it, on any instance.
 */
export async function apisByIndicator(collections: ApiCollections, indicators: readonly string[]): Promise<Map<string, ApiResourceRecord>> {
  const found = await collections.resources.find({ indicator: { $in: [...new Set(indicators)] } }).toArray();
  return new Map(found.map((resource) => [resource.indicator, resource]));
}

export async function apisById(collections: ApiCollections, ids: readonly string[]): Promise<Map<string, ApiResourceRecord>> {
  const found = await collections.resources.find({ _id: { $in: [...new Set(ids)] } }).toArray();
  return new Map(found.map((resource) => [resource._id, resource]));
}

/** The API at `indicator`, which must define every one of `scopes`; a 400 naming `where` otherwise. */
export function requireScopes(apis: ReadonlyMap<string, ApiResourceRecord>, indicator: string, scopes: readonly string[], where: string): ApiResourceRecord {
  const resource = apis.get(indicator);
  if (!resource) throw new AdminError(400, 'invalid_request', `${where}: ${indicator} is not a registered API`);
  const defined = new Set(resource.scopes.map((scope) => scope.name));
  const unknown = scopes.find((scope) => !defined.has(scope));
  if (unknown !== undefined) throw new AdminError(400, 'invalid_request', `${where}: ${unknown} is not a scope of ${indicator}`);
  return resource;
}
