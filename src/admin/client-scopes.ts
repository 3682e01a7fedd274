import type Router from '@koa/router';
import type { ClientMetadata } from 'oidc-provider';

import { clientGrants, setClientGrants } from '../apis/client-grants.js';
import { MongoAdapter } from '../oidc/adapter.js';
import type { AdminDeps } from './deps.js';
import { apisById, apisByIndicator, requireScopes } from './api-lookup.js';
import { clientResourceScopes } from './api-schemas.js';
import { AdminError, notFound, parse, reply } from './http.js';
import { pathId } from './schemas.js';

/**
 * What a client may get on its own (client_credentials), per API: nothing unless granted
 * here. Read at every token request, so a change applies to the next token.
 */
export function clientScopeRoutes(router: Router, deps: AdminDeps): void {
  const { collections } = deps.apiCatalog;
  const adapter = new MongoAdapter(deps.store, 'Client');

  async function load(id: string): Promise<ClientMetadata & { client_id: string }> {
    const client = (await adapter.find(parse(pathId, id))) as (ClientMetadata & { client_id: string }) | undefined;
    if (!client) throw notFound('client');
    return client;
  }

  async function view(clientId: string) {
    const grants = await clientGrants(collections, clientId);
    const apis = await apisById(collections, grants.map((grant) => grant.resource_id));
    return {
      client_id: clientId,
      grants: grants.flatMap(({ resource_id: id, scopes }) => {
        const resource = apis.get(id);
        if (!resource) return [];
        return [{ resource: resource.indicator, scopes: scopes.filter((scope) => resource.scopes.some((s) => s.name === scope)) }];
      }),
    };
  }

  router.put('/clients/:id/resource-scopes', async (ctx) => {
    const { grants } = parse(clientResourceScopes, ctx.request.body);
    const client = await load(ctx.params.id!);
    if (client.token_endpoint_auth_method === 'none') {
      throw new AdminError(400, 'invalid_request', 'a public client (token_endpoint_auth_method none) cannot use client_credentials');
    }
    const apis = await apisByIndicator(collections, grants.map((grant) => grant.resource));
    const seen = new Set<string>();
    const stored = grants.map((grant, i) => {
      const resource = requireScopes(apis, grant.resource, grant.scopes, `grants.${i}`);
      if (seen.has(resource._id)) throw new AdminError(400, 'invalid_request', `grants.${i}: ${grant.resource} is named twice`);
      seen.add(resource._id);
      return { resource_id: resource._id, scopes: [...new Set(grant.scopes)] };
    });
    await setClientGrants(collections, client.client_id, stored);
    reply(ctx, 200, await view(client.client_id));
  });

  router.get('/clients/:id/resource-scopes', async (ctx) => {
    const client = await load(ctx.params.id!);
    reply(ctx, 200, await view(client.client_id));
  });
}
