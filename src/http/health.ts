import type { Middleware } from 'koa';
import type { Connection } from 'mongoose';

import { defaults } from '../../config/defaults.js';
import { nameRoute } from '../observability/requests.js';

const { readinessTimeoutMs } = defaults.operations;

/** Ready to take traffic: false from the moment the process begins shutting down. */
export class Readiness {
  #draining = false;

  get draining(): boolean {
    return this.#draining;
  }

  drain(): void {
    this.#draining = true;
  }
}

/**
 * Liveness and readiness for orchestrators (the Ory Hydra convention): alive means the
 * process serves HTTP; ready means MongoDB answers too, since every request needs it, and
 * the process is not shutting down. Readiness answers within its own short timeout even
 * when the database hangs.
 */
export function healthRoutes(connection: Connection, readiness: Readiness): Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    if (ctx.path !== '/health/alive' && ctx.path !== '/health/ready') return next();
    nameRoute(ctx, ctx.path);
    ctx.set('Cache-Control', 'no-store');
    if (ctx.path === '/health/alive') {
      ctx.body = { status: 'ok' };
      return;
    }
    if (readiness.draining) {
      ctx.status = 503;
      ctx.body = { status: 'unavailable', error: 'shutting_down' };
      return;
    }
    const failure = await ping(connection);
    if (!failure) {
      ctx.body = { status: 'ok' };
      return;
    }
    ctx.status = 503;
    ctx.body = { status: 'unavailable', error: 'database_unreachable' };
    ctx.state.error = failure;
  };
}

/** Resolves to the failure, or undefined when MongoDB answered in time. */
async function ping(connection: Connection): Promise<Error | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<Error>((resolve) => {
    timer = setTimeout(() => resolve(new Error(`no answer within ${readinessTimeoutMs} ms`)), readinessTimeoutMs);
  });
  try {
    // The driver's own timeouts (src/db/connection.ts) are longer than a probe may wait.
    const answer = connection.db!.admin().ping().then(() => undefined, (err: Error) => err);
    return await Promise.race([answer, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
