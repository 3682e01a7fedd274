import type { Context, Next } from 'koa';

import { isDatabaseUnavailable, RETRY_AFTER_SECONDS, UNAVAILABLE_DESCRIPTION } from '../db/unavailable.js';

/**
 * Last line of defence for our own routes (oidc-provider handles its own): a client error
 * keeps its status and message, a database outage is a 503, anything else becomes a bare
 * 500 with no stack trace; the request's log line gets the error, never bodies or tokens.
 * Every 503 that passes here, ours or oidc-provider's, tells the client when to retry.
 */
export async function errorBoundary(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } catch (err) {
    const status = isDatabaseUnavailable(err) ? 503 : httpStatus(err);
    const expose = status < 500;
    ctx.status = status;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = status === 503
      ? { error: 'temporarily_unavailable', error_description: UNAVAILABLE_DESCRIPTION }
      : {
        error: expose ? errorCode(status) : 'server_error',
        error_description: expose && err instanceof Error ? err.message : 'unexpected server error',
      };
    if (!expose) ctx.state.error = err;
  }
  // Every 503 says when to come back; one that already says (the hashing gate's) keeps its own.
  if (ctx.status === 503 && !ctx.response.get('Retry-After')) ctx.set('Retry-After', RETRY_AFTER_SECONDS);
}

function httpStatus(err: unknown): number {
  const status = (err as { status?: unknown; statusCode?: unknown })?.status ?? (err as { statusCode?: unknown })?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

function errorCode(status: number): string {
  if (status === 401) return 'invalid_token';
  if (status === 403) return 'insufficient_scope';
  if (status === 404) return 'not_found';
  if (status === 413) return 'request_too_large';
  if (status === 415) return 'unsupported_media_type';
  return 'invalid_request';
}
