import { providerRoute, type Amendment } from './amendments.js';

/**
 * Tells relying parties how long they may cache our JWKS. The key lifecycle relies on this
 * bound: a new key is published at least this long before it signs (src/keys/timing.ts).
 */
export function jwksCaching(maxAgeSeconds: number): Amendment {
  return (ctx) => {
    if (providerRoute(ctx) === 'jwks' && ctx.status === 200) ctx.set('Cache-Control', `public, max-age=${maxAgeSeconds}`);
    return undefined;
  };
}
