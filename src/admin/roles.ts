import type Router from '@koa/router';

import { isDuplicateKey, newId, type Permission, type RoleRecord } from '../apis/records.js';
import type { AdminDeps } from './deps.js';
import { apisById, apisByIndicator, requireScopes } from './api-lookup.js';
import { newRole, rolePatch, userRoles } from './api-schemas.js';
import { AdminError, notFound, parse, reply } from './http.js';
import { page, pathId } from './schemas.js';

/** Roles grant scopes of APIs marked `rbac` to the users who have them. */
export function roleRoutes(router: Router, deps: AdminDeps): void {
  const { collections } = deps.apiCatalog;

  async function load(id: string): Promise<RoleRecord> {
    const role = await collections.roles.findOne({ _id: parse(pathId, id) });
    if (!role) throw notFound('role');
    return role;
  }

  /** Permissions as operators name them (by indicator) to permissions as stored (by API id). */
  async function resolve(input: ReadonlyArray<{ resource: string; scope: string }>): Promise<Permission[]> {
    const apis = await apisByIndicator(collections, input.map((p) => p.resource));
    const unique = new Map(input.map((p, i) => {
      const resource = requireScopes(apis, p.resource, [p.scope], `permissions.${i}`);
      return [`${resource._id} ${p.scope}`, { resource_id: resource._id, scope: p.scope }];
    }));
    return [...unique.values()];
  }

  /** Permissions whose API and scope still exist, named by indicator. */
  async function views(roles: RoleRecord[]) {
    const apis = await apisById(collections, roles.flatMap((role) => role.permissions.map((p) => p.resource_id)));
    return roles.map(({ _id, permissions, ...rest }) => ({
      id: _id, ...rest,
      permissions: permissions.flatMap(({ resource_id: id, scope }) => {
        const resource = apis.get(id);
        return resource?.scopes.some((s) => s.name === scope) ? [{ resource: resource.indicator, scope }] : [];
      }),
    }));
  }

  const nameTaken = (err: unknown, name: string | undefined) => {
    if (isDuplicateKey(err)) throw new AdminError(409, 'conflict', `a role named ${name} already exists`);
    throw err;
  };

  router.post('/roles', async (ctx) => {
    const input = parse(newRole, ctx.request.body);
    const now = new Date();
    const role: RoleRecord = { _id: newId(), ...input, permissions: await resolve(input.permissions), created_at: now, updated_at: now };
    await collections.roles.insertOne(role).catch((err: unknown) => nameTaken(err, input.name));
    await deps.apiCatalog.changed();
    reply(ctx, 201, (await views([role]))[0]);
  });

  router.get('/roles', async (ctx) => {
    const { limit, offset } = parse(page, ctx.query);
    const found = await collections.roles.find({}).sort({ name: 1 }).skip(offset).limit(limit).toArray();
    reply(ctx, 200, { roles: await views(found), next_offset: found.length === limit ? offset + limit : null });
  });

  router.get('/roles/:id', async (ctx) => {
    reply(ctx, 200, (await views([await load(ctx.params.id!)]))[0]);
  });

  router.patch('/roles/:id', async (ctx) => {
    const { description, permissions, ...changes } = parse(rolePatch, ctx.request.body);
    const role = await load(ctx.params.id!);
    const set = {
      ...changes, updated_at: new Date(),
      ...(typeof description === 'string' ? { description } : {}),
      ...(permissions ? { permissions: await resolve(permissions) } : {}),
    };
    const updated = await collections.roles.findOneAndUpdate(
      { _id: role._id }, { $set: set, ...(description === null ? { $unset: { description: '' as const } } : {}) }, { returnDocument: 'after' },
    ).catch((err: unknown) => nameTaken(err, changes.name));
    if (!updated) throw notFound('role');
    await deps.apiCatalog.changed();
    reply(ctx, 200, (await views([updated]))[0]);
  });

  // Users keep the id of a deleted role in their list; a role that no longer exists grants nothing.
  router.delete('/roles/:id', async (ctx) => {
    const role = await load(ctx.params.id!);
    await collections.roles.deleteOne({ _id: role._id });
    await deps.apiCatalog.changed();
    reply(ctx, 200, { id: role._id });
  });

  router.get('/roles/:id/users', async (ctx) => {
    const { limit, offset } = parse(page, ctx.query);
    const role = await load(ctx.params.id!);
    const holders = await collections.accountRoles.find({ roles: role._id }).sort({ _id: 1 }).skip(offset).limit(limit).toArray();
    const users = await Promise.all(holders.map(async (holder) => deps.users.find(holder._id)));
    reply(ctx, 200, {
      users: users.flatMap((user) => (user ? [{ id: user._id, username: user.username }] : [])),
      next_offset: holders.length === limit ? offset + limit : null,
    });
  });

  // Takes effect at the user's next token: every issue, refreshes included, reads the roles afresh.
  router.put('/users/:id/roles', async (ctx) => {
    const { roles } = parse(userRoles, ctx.request.body);
    const user = await deps.users.find(parse(pathId, ctx.params.id));
    if (!user) throw notFound('user');
    const wanted = [...new Set(roles)];
    const found = await collections.roles.find({ _id: { $in: wanted } }).toArray();
    const unknown = wanted.find((id) => !found.some((role) => role._id === id));
    if (unknown !== undefined) throw new AdminError(400, 'invalid_request', `roles: ${unknown} is not a role`);
    await collections.accountRoles.updateOne({ _id: user._id }, { $set: { roles: wanted } }, { upsert: true });
    reply(ctx, 200, { roles: await views(found) });
  });

  router.get('/users/:id/roles', async (ctx) => {
    const user = await deps.users.find(parse(pathId, ctx.params.id));
    if (!user) throw notFound('user');
    const ids = (await collections.accountRoles.findOne({ _id: user._id }))?.roles ?? [];
    reply(ctx, 200, { roles: await views(await collections.roles.find({ _id: { $in: ids } }).toArray()) });
  });
}
