import type { ClientMetadata } from 'oidc-provider';

import { scopeDescriptions } from '../../config/claims.js';
import { defaults } from '../../config/defaults.js';
import { parsePayload, type ArtifactStore } from '../oidc/store.js';
import type { ApiCatalog } from './catalog.js';
import { isDuplicateKey, newId, type ApiResourceRecord } from './records.js';
import { grantClientScopes } from './client-grants.js';

/**
 * The API that API_AUDIENCE names, with `api:read api:write`, becomes a registered API
 * the first time a server starts with it (a new deployment or an upgrade), so existing
 * clients get the same tokens as before. Before APIs were registered, any client allowed
 * client_credentials got both scopes; those clients get an explicit grant of them. Once
 * imported, the API is the operator's: renamed, changed or deleted, it stays that way.
 */
export async function registerConfiguredApi(catalog: ApiCatalog, store: ArtifactStore, indicator: string): Promise<void> {
  const { collections } = catalog;
  const state = await collections.state.findOne({ _id: 'catalog' });
  if (state?.imported?.includes(indicator)) return;

  const now = new Date();
  const candidate: ApiResourceRecord = {
    _id: newId(), indicator, name: defaults.apis.legacyName,
    scopes: defaults.apiScopes.map((name) => ({ name, description: scopeDescriptions[name] ?? name })),
    rbac: false, roles_claim: false, revision: 0, created_at: now, updated_at: now,
  };
  // Instances starting together race here; the unique indicator lets one insert win.
  await collections.resources.insertOne(candidate).catch((err: unknown) => {
    if (!isDuplicateKey(err)) throw err;
  });
  const resource = (await collections.resources.findOne({ indicator }))!;
  const scopes = resource.scopes.map((scope) => scope.name).filter((name) => (defaults.apiScopes as readonly string[]).includes(name));

  const clients = await store.collection('Client').find({}).toArray();
  for (const doc of clients) {
    const client = parsePayload<ClientMetadata & { client_id: string }>(doc);
    if (!client.grant_types?.includes('client_credentials')) continue;
    await grantClientScopes(collections, client.client_id, resource._id, scopes);
  }
  // MongoDB's $addToSet would merge two instances' imports of different indicators; the
  // wire server in our tests has only $set, and both instances write the same list here.
  await collections.state.updateOne(
    { _id: 'catalog' }, { $set: { imported: [...(state?.imported ?? []), indicator] }, $inc: { version: 1 } }, { upsert: true },
  );
}
