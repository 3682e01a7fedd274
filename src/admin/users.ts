import type Router from '@koa/router';

import { duplicateField, type AccountRecord } from '../db/models/account.js';
import { checkPassword, type PasswordOwner } from '../security/password-policy.js';
import type { AccountChanges } from '../oidc/account-admin.js';
import { endUserPast, type PastEnding } from '../revocation/user-past.js';
import { auditOf, type AdminDeps } from './deps.js';
import { AdminError, notFound, parse, reply } from './http.js';
import { newUser, pathId, userPatch, userQuery } from './schemas.js';

/** User accounts. A disabled or deleted user is signed out everywhere first. */
export function userRoutes(router: Router, deps: AdminDeps): void {
  const { users } = deps;

  async function load(id: string): Promise<AccountRecord> {
    const account = await users.find(parse(pathId, id));
    if (!account) throw notFound('user');
    return account;
  }

  router.post('/users', async (ctx) => {
    const input = parse(newUser, ctx.request.body);
    await requireAcceptablePassword(input.password, input);
    if (await users.findByUsername(input.username)) throw taken('username');
    if (input.email) await requireFreeEmail(input.email);
    const account = await users.create(input).catch(rethrowTaken);
    reply(ctx, 201, userView(account));
  });

  router.get('/users', async (ctx) => {
    const query = parse(userQuery, ctx.query);
    const found = await users.list({ limit: query.limit, offset: query.offset, usernamePrefix: query.username_prefix });
    reply(ctx, 200, {
      users: found.map(userView),
      next_offset: found.length === query.limit ? query.offset + query.limit : null,
    });
  });

  router.get('/users/:id', async (ctx) => {
    const account = await load(ctx.params.id!);
    reply(ctx, 200, { ...userView(account), two_step: await deps.twoStep.factors.kinds(account._id) });
  });

  // For a user who lost every second step: they go, and so does everything signed in with them.
  router.delete('/users/:id/mfa', async (ctx) => {
    const account = await load(ctx.params.id!);
    const removed = await deps.twoStep.factors.removeAll(account._id);
    const revoked = await endUserPast(deps, account._id, 'mfa_reset', auditOf(ctx));
    if (removed) await deps.twoStep.changes.notify(account, 'user.mfa_reset');
    reply(ctx, 200, { id: account._id, factors_removed: removed, revoked });
  });

  router.patch('/users/:id', async (ctx) => {
    const changes = parse(userPatch, ctx.request.body);
    if (Object.keys(changes).length === 0) throw new AdminError(400, 'invalid_request', 'body: nothing to change');
    const before = await load(ctx.params.id!);
    if (changes.password !== undefined) {
      await requireAcceptablePassword(changes.password, { username: before.username, email: changes.email ?? before.email });
    }
    // Setting an email (even the same one) marks it unverified (users.update) until its
    // owner follows the link mailed to it.
    if (typeof changes.email === 'string') await requireFreeEmail(changes.email, before._id);
    // The password is written (moving the account's version) before the cut-off below.
    const after = await users.update(before._id, changes).catch(rethrowTaken);
    if (!after) throw notFound('user');
    // A mail that cannot go out is logged and recorded; the operator can set the email again.
    if (changes.email !== undefined) await deps.emailChanged(before, after);
    const ending = pastEndingOf(before, changes);
    if (!ending) return reply(ctx, 200, userView(after));
    // After the change is stored: a cut-off first would let the old password sign in between.
    await endUserPast(deps, before._id, ending, auditOf(ctx));
    reply(ctx, 200, userView((await users.find(before._id)) ?? after));
  });

  router.delete('/users/:id', async (ctx) => {
    const account = await load(ctx.params.id!);
    const revoked = await endUserPast(deps, account._id, 'deleted', auditOf(ctx));
    await users.delete(account._id);
    // Account ids are random UUIDs, never reused: a late role assignment could only leave an inert record.
    await deps.apiCatalog.collections.accountRoles.deleteOne({ _id: account._id });
    await deps.twoStep.factors.removeAll(account._id);
    await deps.identities.removeAll(account._id);
    reply(ctx, 200, { id: account._id, revoked });
  });

  /** One account per email address, compared case-insensitively (stored lower case). */
  async function requireFreeEmail(email: string, except?: string): Promise<void> {
    const holder = await users.findByEmail(email);
    if (holder && holder._id !== except) throw taken('email');
  }
}

function taken(field: 'username' | 'email'): AdminError {
  return new AdminError(409, 'conflict', field === 'email' ? 'email is already used by another user' : 'username is already taken');
}

/** The unique indexes decide when two requests race for one username or email. */
function rethrowTaken(err: unknown): never {
  const field = duplicateField(err);
  throw field ? taken(field) : err;
}

/** The shared password policy, answered as the admin API's 400. */
async function requireAcceptablePassword(password: string, owner: PasswordOwner): Promise<void> {
  const violation = await checkPassword(password, owner);
  if (violation) throw new AdminError(400, 'invalid_request', `password: ${violation.message}`);
}

/** Disabling a user or setting their password ends everything they signed in to before. */
function pastEndingOf(before: AccountRecord, changes: AccountChanges): PastEnding | undefined {
  if (changes.disabled === true && !before.disabled) return 'disabled';
  if (changes.password !== undefined) return 'password_changed';
  return undefined;
}

/** What operators see of an account: never the password hash. */
export function userView(account: AccountRecord) {
  return {
    id: account._id,
    username: account.username,
    name: account.name,
    email: account.email,
    email_verified: account.emailVerified,
    disabled: account.disabled,
    tokens_valid_after: account.tokensValidAfter?.toISOString(),
    created_at: account.createdAt.toISOString(),
    updated_at: account.updatedAt.toISOString(),
  };
}
