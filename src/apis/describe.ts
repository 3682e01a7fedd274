import type { ApiCatalog } from './catalog.js';

/** An API as end users see it: its name and what each scope lets an app do. */
export interface DescribedApi {
  name: string;
  scopes: string[];
}

/** For the consent page and the account center; an API not (or no longer) registered shows as it is named in the grant. */
export async function describeApi(catalog: ApiCatalog, indicator: string, scopes: readonly string[]): Promise<DescribedApi> {
  const resource = (await catalog.current()).byIndicator.get(indicator);
  if (!resource) return { name: indicator, scopes: [...scopes] };
  const descriptions = new Map(resource.scopes.map((scope) => [scope.name, scope.description]));
  return { name: resource.name, scopes: scopes.map((scope) => descriptions.get(scope) || scope) };
}
