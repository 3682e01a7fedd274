import type { Context, Middleware } from 'koa';

/**
 * Something we add to an answer oidc-provider has just given (a header, a corrected body).
 * It checks the route itself and returns a promise only when it has work to do there.
 */
export type Amendment = (ctx: Context) => Promise<void> | undefined;

/**
 * One layer after the provider for all our amendments, run in order once it has answered.
 * One layer rather than one each: every request to the provider, the token endpoint's
 * included, would otherwise pay a suspended async function per amendment, for nothing
 * but a route check (`npm run bench` weighs the hot path against bare oidc-provider).
 */
export function amendProviderAnswers(amendments: readonly Amendment[]): Middleware {
  return async (ctx, next) => {
    await next();
    for (const amend of amendments) {
      const work = amend(ctx);
      if (work) await work;
    }
  };
}

/** The route oidc-provider served this request under, if it served it. */
export function providerRoute(ctx: Context): string | undefined {
  return (ctx as { oidc?: { route?: string } }).oidc?.route;
}
