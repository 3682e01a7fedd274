import type Router from '@koa/router';

import { defaults } from '../../config/defaults.js';
import { isDuplicateKey, newId, type ApiResourceRecord, type ApiScope } from '../apis/records.js';
import type { AdminDeps } from './deps.js';
import { AdminError, notFound, parse, reply } from './http.js';
import { apiResourcePatch, newApiResource, scopesToAdd } from './api-schemas.js';
import { page, pathId } from './schemas.js';

const { maxScopes } = defaults.apis;

/** Scope edits read, change and write the list; a concurrent edit in between makes the write retry. */
const SCOPE_EDIT_ATTEMPTS = 5;

/** The APIs (resource servers) this server issues access tokens for. */
export function resourceRoutes(router: Router, deps: AdminDeps): void {
  const { collections } = deps.apiCatalog;

  async function load(id: string): Promise<ApiResourceRecord> {
    const resource = await collections.resources.findOne({ _id: parse(pathId, id) });
    if (!resource) throw notFound('API');
    return resource;
  }

  router.post('/resources', async (ctx) => {
    const input = parse(newApiResource, ctx.request.body);
    refuseBuiltIn(input.indicator, deps.builtInAudiences);
    const now = new Date();
    const resource: ApiResourceRecord = { _id: newId(), ...input, revision: 0, created_at: now, updated_at: now };
    await collections.resources.insertOne(resource).catch((err: unknown) => {
      if (isDuplicateKey(err)) throw new AdminError(409, 'conflict', `an API with indicator ${input.indicator} is already registered`);
      throw err;
    });
    await deps.apiCatalog.changed();
    reply(ctx, 201, view(resource));
  });

  router.get('/resources', async (ctx) => {
    const { limit, offset } = parse(page, ctx.query);
    const found = await collections.resources.find({}).sort({ _id: 1 }).skip(offset).limit(limit).toArray();
    reply(ctx, 200, { resources: found.map(view), next_offset: found.length === limit ? offset + limit : null });
  });

  router.get('/resources/:id', async (ctx) => {
    reply(ctx, 200, view(await load(ctx.params.id!)));
  });

  router.patch('/resources/:id', async (ctx) => {
    const { access_token_ttl: ttl, ...changes } = parse(apiResourcePatch, ctx.request.body);
    const resource = await load(ctx.params.id!);
    const update = {
      $set: { ...changes, ...(typeof ttl === 'number' ? { access_token_ttl: ttl } : {}), updated_at: new Date() },
      $inc: { revision: 1 },
      ...(ttl === null ? { $unset: { access_token_ttl: '' as const } } : {}),
    };
    const updated = await collections.resources.findOneAndUpdate({ _id: resource._id }, update, { returnDocument: 'after' });
    if (!updated) throw notFound('API');
    await deps.apiCatalog.changed();
    reply(ctx, 200, view(updated));
  });

  router.delete('/resources/:id', async (ctx) => {
    const resource = await load(ctx.params.id!);
    // Roles and client grants name the API by id: one registered again later starts with none.
    const { deletedCount } = await collections.resources.deleteOne({ _id: resource._id });
    if (deletedCount === 0) throw notFound('API');
    await deps.apiCatalog.changed();
    reply(ctx, 200, { id: resource._id, indicator: resource.indicator });
  });

  // Adds scopes, or rewords ones the API already has.
  router.post('/resources/:id/scopes', async (ctx) => {
    const { scopes } = parse(scopesToAdd, ctx.request.body);
    const updated = await editScopes(ctx.params.id!, (current) => {
      const added = new Map(scopes.map((scope) => [scope.name, scope]));
      const merged = [...current.map((scope) => added.get(scope.name) ?? scope), ...scopes.filter((scope) => !current.some((c) => c.name === scope.name))];
      if (merged.length > maxScopes) throw new AdminError(400, 'invalid_request', `scopes: at most ${maxScopes} scopes per API`);
      return merged;
    });
    reply(ctx, 200, view(updated));
  });

  router.delete('/resources/:id/scopes/:name', async (ctx) => {
    const name = ctx.params.name!;
    const updated = await editScopes(ctx.params.id!, (current) => {
      if (!current.some((scope) => scope.name === name)) throw notFound('scope');
      return current.filter((scope) => scope.name !== name);
    });
    reply(ctx, 200, view(updated));
  });

  async function editScopes(id: string, edit: (current: ApiScope[]) => ApiScope[]): Promise<ApiResourceRecord> {
    for (let attempt = 0; attempt < SCOPE_EDIT_ATTEMPTS; attempt += 1) {
      const resource = await load(id);
      const scopes = edit(resource.scopes);
      // Written only if no one else changed the API since it was read.
      const updated = await collections.resources.findOneAndUpdate(
        { _id: resource._id, revision: resource.revision },
        { $set: { scopes, updated_at: new Date() }, $inc: { revision: 1 } },
        { returnDocument: 'after' },
      );
      if (!updated) continue;
      await deps.apiCatalog.changed();
      return updated;
    }
    throw new AdminError(409, 'conflict', 'the API kept changing while its scopes were edited; try again');
  }
}

/** The admin and account APIs are this server's own: their audiences, in any spelling, are not for registration. */
function refuseBuiltIn(indicator: string, builtIn: readonly string[]): void {
  const normal = (uri: string) => URL.parse(uri)!.href.replace(/\/+$/, '');
  if (builtIn.some((audience) => normal(audience) === normal(indicator))) {
    throw new AdminError(400, 'invalid_request', `indicator: ${indicator} is a built-in API of this server and cannot be registered`);
  }
}

function view(resource: ApiResourceRecord) {
  const { _id, revision: _revision, ...rest } = resource;
  return { id: _id, ...rest };
}
