import type Router from '@koa/router';

import { RINGS, SIGNING_ALGS, type Ring, type StoredKey } from '../db/models/key-set.js';
import { KeyLifecycleError, type KeyChange } from '../keys/lifecycle.js';
import { readyAt, type KeyTiming } from '../keys/timing.js';
import { auditOf, type AdminDeps } from './deps.js';
import { AdminError, notFound, parse, reply } from './http.js';
import { pathId, rotateRequest } from './schemas.js';

/** Signing and cookie keys: their lifecycle, an on-demand rotation and an emergency revocation. */
export function keyRoutes(router: Router, deps: AdminDeps): void {
  const keyList = () => deps.keyRing.keys.map((key) => keyView(key, deps.keyRing.timing));

  router.get('/keys', (ctx) => {
    reply(ctx, 200, { keys: keyList() });
  });

  router.post('/keys/rotate', async (ctx) => {
    const body = parse(rotateRequest, ctx.request.body);
    const rings: readonly Ring[] = body.alg ? [body.alg] : body.use === 'sig' ? SIGNING_ALGS : body.use === 'cookie' ? ['cookie'] : RINGS;
    const changes = await lifecycle(() => deps.keyRing.rotate(rings, auditOf(ctx)));
    const rotated = changes.flatMap((change) => (change.type === 'rotated' ? [{ ...ringView(change.ring), kid: change.kid, replaced: change.replaced! }] : []));
    reply(ctx, 200, { rotated, keys: keyList() });
  });

  router.post('/keys/:kid/revoke', async (ctx) => {
    const kid = parse(pathId, ctx.params.kid);
    const changes = await lifecycle(() => deps.keyRing.revoke(kid, auditOf(ctx)));
    const replacement = changes.find((change) => change.type === 'rotated');
    reply(ctx, 200, { kid, ...(replacement ? { replaced_by: replacement.kid } : {}), keys: keyList() });
  });
}

async function lifecycle(transition: () => Promise<KeyChange[]>): Promise<KeyChange[]> {
  try {
    return await transition();
  } catch (err) {
    if (!(err instanceof KeyLifecycleError)) throw err;
    if (err.code === 'not_found') throw notFound('key');
    throw new AdminError(409, err.code, err.message);
  }
}

function ringView(ring: Ring): { use: 'sig' | 'cookie'; alg?: string } {
  return ring === 'cookie' ? { use: 'cookie' } : { use: 'sig', alg: ring };
}

/** What an operator may see of a key: ids, states and dates, never key material. */
function keyView(key: StoredKey, timing: KeyTiming): Record<string, unknown> {
  const iso = (date: Date | undefined) => date?.toISOString();
  return Object.fromEntries(Object.entries({
    kid: key.kid,
    ...ringView(key.ring),
    state: key.state,
    source: key.source,
    created_at: iso(key.createdAt),
    ready_at: key.state === 'next' ? iso(readyAt(key, timing)) : undefined,
    activated_at: iso(key.activatedAt),
    deactivated_at: iso(key.deactivatedAt),
    retire_at: iso(key.retireAt),
    ended_at: iso(key.endedAt),
  }).filter(([, value]) => value !== undefined));
}
