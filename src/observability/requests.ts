import hyperid from 'hyperid';
import type { Context, Middleware } from 'koa';

import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/** What we accept as a caller's request id: short, printable, nothing to inject into a log. */
const REQUEST_ID = /^[\w.:@-]{1,128}$/;
/** Ours need to be unique, not secret: a random per-process prefix and a counter, about a
 * tenth of what a random UUID costs per request (profiled on the token endpoint). */
const newRequestId = hyperid({ urlSafe: true });

interface RoutedContext {
  /** Set by @koa/router and by oidc-provider's router: the matched path template. */
  _matchedRoute?: unknown;
  /** Set by koa-mount (the admin API at /admin). */
  mountPath?: string;
  oidc?: { client?: { clientId: string } };
}

interface RequestLine {
  reqId: string;
  method: string;
  route: string;
  status: number;
  ms: number;
  clientId: string | undefined;
  err?: unknown;
}

export interface RequestObserverDeps {
  logger: Logger;
  metrics: Metrics;
  /** Accept `X-Request-Id` from the proxy in front; otherwise always generate one. */
  trustProxy: boolean;
}

/**
 * Outermost middleware: gives every request an id (echoed as `X-Request-Id`), then records
 * one duration sample and writes one log line. Only the route template is recorded, never
 * the URL: query strings carry codes and tokens.
 */
export function requestObserver({ logger, metrics, trustProxy }: RequestObserverDeps): Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    const requestId = acceptedRequestId(ctx, trustProxy) ?? newRequestId();
    // Straight to Node: Koa's ctx.set builds arrays and closures per call to normalize
    // values this one never needs (the token endpoint's profile showed it).
    ctx.res.setHeader('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      const seconds = (performance.now() - started) / 1000;
      const { method, status } = ctx;
      const route = routeOf(ctx);
      metrics.observeRequest(method, route, status, seconds);
      const line: RequestLine = {
        reqId: requestId, method, route, status, ms: Math.round(seconds * 10_000) / 10, clientId: clientIdOf(ctx),
      };
      if (status < 500) {
        logger.info(line, 'request');
      } else {
        if (ctx.state.error) line.err = ctx.state.error;
        logger.error(line, 'request');
      }
    }
  };
}

/** Our fixed-path middlewares (health, stylesheet) name their route here; routers set theirs. */
export function nameRoute(ctx: Context, route: string): void {
  ctx.state.route = route;
}

/** A bounded label: a router's path template, a fixed path, or a catch-all. */
function routeOf(ctx: Context): string {
  const { _matchedRoute: matched, mountPath } = ctx as unknown as RoutedContext;
  const prefix = mountPath && mountPath !== '/' ? mountPath : '';
  if (typeof matched === 'string') return `${prefix}${matched}`;
  if (typeof ctx.state.route === 'string') return ctx.state.route;
  return prefix ? `${prefix}/*` : 'unmatched';
}

function clientIdOf(ctx: Context): string | undefined {
  if (typeof ctx.state.adminClientId === 'string') return ctx.state.adminClientId;
  // oidc-provider defines ctx.oidc only on the requests it handled.
  if (!Object.hasOwn(ctx, 'oidc')) return undefined;
  return (ctx as unknown as RoutedContext).oidc?.client?.clientId;
}

function acceptedRequestId(ctx: Context, trustProxy: boolean): string | undefined {
  if (!trustProxy) return undefined;
  const id = ctx.get('x-request-id');
  return REQUEST_ID.test(id) ? id : undefined;
}
