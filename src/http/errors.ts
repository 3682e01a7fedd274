import type { Context, Next } from 'koa';

/**
 * Last line of defence for our own routes (oidc-provider handles its own): a client error
 * keeps its status and message, anything else becomes a bare 500 with no stack trace;
 * the operator's log gets the error, never request bodies or tokens.
 */
export async function errorBoundary(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } catch (err) {
    const status = httpStatus(err);
    const expose = status < 500;
    ctx.status = status;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      error: expose ? errorCode(status) : 'server_error',
      error_description: expose && err instanceof Error ? err.message : 'unexpected server error',
    };
    if (!expose) console.error(`[server_error] ${ctx.method} ${ctx.path}:`, err);
  }
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
