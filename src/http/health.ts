import type { Middleware } from 'koa';
import type { Connection } from 'mongoose';

/**
 * Liveness and readiness for orchestrators (the Ory Hydra convention): alive means the
 * process serves HTTP; ready means MongoDB answers too, since every request needs it.
 */
export function healthRoutes(connection: Connection): Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    ctx.set('Cache-Control', 'no-store');
    if (ctx.path === '/health/alive') {
      ctx.body = { status: 'ok' };
      return;
    }
    if (ctx.path !== '/health/ready') return next();
    try {
      await connection.db!.admin().ping();
      ctx.body = { status: 'ok' };
    } catch (err) {
      ctx.status = 503;
      ctx.body = { status: 'unavailable', error: 'database_unreachable' };
      console.warn(`[health] database ping failed: ${(err as Error).message}`);
    }
  };
}
