import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * Tells relying parties how long they may cache our JWKS. The key lifecycle relies on this
 * bound: a new key is published at least this long before it signs (src/keys/timing.ts).
 */
export function jwksCaching(maxAgeSeconds: number): Middleware {
  return async (ctx, next) => {
    await next();
    const { oidc } = ctx as unknown as Partial<KoaContextWithOIDC>;
    if (oidc?.route === 'jwks' && ctx.status === 200) ctx.set('Cache-Control', `public, max-age=${maxAgeSeconds}`);
  };
}
