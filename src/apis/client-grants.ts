import type { ApiCollections, ClientScopeGrant } from './records.js';

/** Replaces what a client may get with client_credentials. */
export async function setClientGrants(collections: ApiCollections, clientId: string, grants: ClientScopeGrant[]): Promise<void> {
  await collections.clientGrants.updateOne({ _id: clientId }, { $set: { grants } }, { upsert: true });
}

export async function clientGrants(collections: ApiCollections, clientId: string): Promise<ClientScopeGrant[]> {
  return (await collections.clientGrants.findOne({ _id: clientId }))?.grants ?? [];
}

/** Adds a grant of `scopes` on one API unless the client already has one for that API. */
export async function grantClientScopes(collections: ApiCollections, clientId: string, resourceId: string, scopes: string[]): Promise<void> {
  const grants = await clientGrants(collections, clientId);
  if (grants.some((grant) => grant.resource_id === resourceId)) return;
  await setClientGrants(collections, clientId, [...grants, { resource_id: resourceId, scopes }]);
}

export async function forgetClient(collections: ApiCollections, clientId: string): Promise<void> {
  await collections.clientGrants.deleteOne({ _id: clientId });
}
