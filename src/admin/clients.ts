import { randomBytes } from 'node:crypto';
import type Router from '@koa/router';
import { errors, type ClientMetadata } from 'oidc-provider';

import { forgetClient } from '../apis/client-grants.js';
import { MongoAdapter } from '../oidc/adapter.js';
import { RESOURCE_SERVER_AUDIENCES } from '../oidc/client-rules.js';
import { apisByIndicator } from './api-lookup.js';
import { auditOf, type AdminDeps } from './deps.js';
import { AdminError, notFound, parse, reply } from './http.js';
import { clientMetadata, clientPatch, page, pathId } from './schemas.js';

type StoredClient = ClientMetadata & { client_id: string; client_secret?: string };

/**
 * Third-party apps. Stored through the same adapter oidc-provider reads them with.
 * oidc-provider's Client.find reads the adapter on every lookup and only caches the
 * parsed client under a hash of the stored properties, so an update or delete takes
 * effect at once, on this instance and on every other one sharing the database.
 */
export function clientRoutes(router: Router, deps: AdminDeps): void {
  const adapter = new MongoAdapter(deps.store, 'Client');

  async function load(id: string): Promise<StoredClient> {
    const stored = (await adapter.find(parse(pathId, id))) as StoredClient | undefined;
    if (!stored) throw notFound('client');
    return stored;
  }

  router.post('/clients', async (ctx) => {
    const input = parse(clientMetadata, ctx.request.body, 'invalid_client_metadata');
    const metadata: StoredClient = {
      ...input,
      client_id: randomBytes(16).toString('base64url'),
      client_id_issued_at: Math.floor(Date.now() / 1000),
    };
    // Every auth method we allow except `none` authenticates with a shared secret.
    if (input.token_endpoint_auth_method !== 'none') metadata.client_secret = newSecret();
    await validate(deps, metadata);
    await adapter.upsert(metadata.client_id, metadata);
    reply(ctx, 201, { ...view(metadata), client_secret: metadata.client_secret });
  });

  router.get('/clients', async (ctx) => {
    const { limit, offset } = parse(page, ctx.query);
    const docs = await deps.store.collection('Client').find({}).sort({ _id: 1 }).skip(offset).limit(limit).toArray();
    const clients = docs.map((doc) => view(JSON.parse(doc.payload) as StoredClient));
    reply(ctx, 200, { clients, next_offset: clients.length === limit ? offset + limit : null });
  });

  router.get('/clients/:id', async (ctx) => {
    reply(ctx, 200, view(await load(ctx.params.id!)));
  });

  router.delete('/clients/:id', async (ctx) => {
    const client = await load(ctx.params.id!);
    const grants = await deps.store.collection('Grant').find({ clientId: client.client_id }, { projection: { _id: 1 } }).toArray();
    for (const grant of grants) await deps.store.revokeGrant(grant._id);
    await deps.store.collection('ClientCredentials').deleteMany({ clientId: client.client_id });
    await adapter.destroy(client.client_id);
    await forgetClient(deps.apiCatalog.collections, client.client_id);
    const { actor, ...origin } = auditOf(ctx);
    await deps.events.record('grant.revoked', {
      clientId: client.client_id, ...origin, detail: { reason: 'client_deleted', grants: grants.length, actor },
    });
    reply(ctx, 200, { client_id: client.client_id, grants_revoked: grants.length });
  });

  // Changes the fields given and revalidates the whole client, so an update cannot reach
  // a combination registration refuses (a public client with client_credentials, ...).
  router.patch('/clients/:id', async (ctx) => {
    const changes = parse(clientPatch, ctx.request.body, 'invalid_client_metadata');
    const client = await load(ctx.params.id!);
    const updated: StoredClient = { ...client, ...changes };
    // Switching to a public client drops the secret; switching away from one issues a secret.
    const issued = updated.token_endpoint_auth_method === 'none' ? undefined : (client.client_secret ?? newSecret());
    if (issued) updated.client_secret = issued;
    else delete updated.client_secret;
    await validate(deps, updated);
    await adapter.upsert(client.client_id, updated);
    reply(ctx, 200, { ...view(updated), ...(issued && issued !== client.client_secret ? { client_secret: issued } : {}) });
  });

  router.post('/clients/:id/secret', async (ctx) => {
    const client = await load(ctx.params.id!);
    if (client.token_endpoint_auth_method === 'none') {
      throw new AdminError(400, 'invalid_request', 'a public client (token_endpoint_auth_method none) has no secret');
    }
    const updated = { ...client, client_secret: newSecret() };
    await adapter.upsert(client.client_id, updated);
    reply(ctx, 200, { client_id: client.client_id, client_secret: updated.client_secret });
  });
}

/** oidc-provider's own client schema decides what a valid client is; ours, which APIs exist. */
async function validate(deps: AdminDeps, metadata: StoredClient): Promise<void> {
  await requireRegisteredAudiences(deps, metadata.resource_server_audiences);
  try {
    await deps.providers.provider.Client.validate(metadata);
  } catch (err) {
    if (err instanceof errors.InvalidClientMetadata || err instanceof errors.InvalidRedirectUri) {
      throw new AdminError(400, err.error, err.error_description ?? err.message);
    }
    // Our extraClientMetadata validator (src/oidc/refresh-policy.ts) reports with TypeError.
    if (err instanceof TypeError) throw new AdminError(400, 'invalid_client_metadata', err.message);
    throw err;
  }
}

/** A resource server introspects tokens of registered APIs only (not the built-in admin and account APIs). */
async function requireRegisteredAudiences(deps: AdminDeps, audiences: unknown): Promise<void> {
  if (!Array.isArray(audiences) || !audiences.every((aud): aud is string => typeof aud === 'string')) return;
  const registered = await apisByIndicator(deps.apiCatalog.collections, audiences);
  const unknown = audiences.find((aud) => !registered.has(aud));
  if (unknown !== undefined) {
    throw new AdminError(400, 'invalid_client_metadata', `${RESOURCE_SERVER_AUDIENCES}: ${unknown} is not a registered API of this server`);
  }
}

/** Client metadata as shown to operators: everything but the secret. */
function view(client: StoredClient): Omit<StoredClient, 'client_secret'> {
  const { client_secret: _secret, ...rest } = client;
  return rest;
}

function newSecret(): string {
  return randomBytes(32).toString('base64url');
}
