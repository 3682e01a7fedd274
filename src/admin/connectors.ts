import type Router from '@koa/router';

import { ConnectorInputError, type ConnectorInput } from '../connectors/catalog.js';
import { redirectUriOf, type ConnectorRecord } from '../connectors/records.js';
import { connectorPatch, newConnector } from './connector-schemas.js';
import { auditOf, type AdminDeps } from './deps.js';
import { AdminError, notFound, parse, reply } from './http.js';
import { pathId } from './schemas.js';

/** Upstream identity providers: "Continue with …" on the login page. Secrets go in, never out. */
export function connectorRoutes(router: Router, deps: AdminDeps): void {
  const { connectors } = deps;
  const view = ({ _id, sealed_secret: _sealed, ...rest }: ConnectorRecord) => ({
    id: _id, ...rest, redirect_uri: redirectUriOf(deps.settings.issuer, _id),
  });

  async function load(id: string | undefined): Promise<ConnectorRecord> {
    const connector = await connectors.find(parse(pathId, id));
    if (!connector) throw notFound('connector');
    return connector;
  }

  router.post('/connectors', async (ctx) => {
    const input = parse(newConnector, ctx.request.body);
    reply(ctx, 201, view(await connectors.create(input).catch(asBadInput)));
  });

  router.get('/connectors', async (ctx) => {
    reply(ctx, 200, { connectors: (await connectors.list()).map(view) });
  });

  router.get('/connectors/:id', async (ctx) => {
    reply(ctx, 200, view(await load(ctx.params.id)));
  });

  router.patch('/connectors/:id', async (ctx) => {
    const { logo_uri, ...changes } = parse(connectorPatch, ctx.request.body);
    const current = await load(ctx.params.id);
    const { _id, sealed_secret: _sealed, created_at: _c, updated_at: _u, logo_uri: oldLogo, ...kept } = current;
    const merged = { ...kept, ...changes, ...(logo_uri === null ? {} : { logo_uri: logo_uri ?? oldLogo }) };
    // The merged whole must still be a valid connector of its type.
    const { client_secret: _secret, ...checked } = parse(newConnector, { ...merged, client_secret: changes.client_secret ?? 'kept' });
    const input = { ...checked, client_secret: changes.client_secret } as Omit<ConnectorInput, 'client_secret'> & { client_secret?: string };
    const updated = await connectors.update(current, input).catch(asBadInput);
    if (!updated) throw notFound('connector');
    reply(ctx, 200, view(updated));
  });

  router.get('/users/:id/identities', async (ctx) => {
    const user = await deps.users.find(parse(pathId, ctx.params.id));
    if (!user) throw notFound('user');
    const identities = await deps.identities.list(user._id);
    reply(ctx, 200, {
      identities: identities.map((identity) => ({
        id: identity.id, connector_id: identity.connectorId, connector_name: identity.connectorName, sub: identity.sub,
        email: identity.email, linked_at: identity.linkedAt, last_sign_in_at: identity.lastSignInAt,
      })),
    });
  });

  router.delete('/users/:id/identities/:identityId', async (ctx) => {
    const userId = parse(pathId, ctx.params.id);
    const identityId = parse(pathId, ctx.params.identityId);
    if (await deps.identities.unlinkByAdmin(userId, identityId, auditOf(ctx)) !== 'unlinked') throw notFound('identity');
    reply(ctx, 200, { id: identityId });
  });

  router.delete('/connectors/:id', async (ctx) => {
    const id = parse(pathId, ctx.params.id);
    const removed = await connectors.delete(id);
    if (removed === undefined) throw notFound('connector');
    reply(ctx, 200, { id, identities_removed: removed });
  });
}

function asBadInput(err: unknown): never {
  if (err instanceof ConnectorInputError) throw new AdminError(400, 'invalid_request', `${err.field}: ${err.message}`);
  throw err;
}
