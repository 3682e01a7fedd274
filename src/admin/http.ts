import { bodyParser } from '@koa/bodyparser';
import type { Context, Middleware, Next } from 'koa';
import type { z } from 'zod';

import { defaults } from '../../config/defaults.js';
import { isDatabaseUnavailable, RETRY_AFTER_SECONDS, UNAVAILABLE_DESCRIPTION } from '../db/unavailable.js';

/** An admin API failure with its HTTP status and OAuth-style error code. */
export class AdminError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, description: string, headers: Record<string, string> = {}) {
    super(description);
    this.name = 'AdminError';
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export const notFound = (what: string): AdminError => new AdminError(404, 'not_found', `${what} not found`);

/** Every admin answer is JSON, including failures; no stack trace ever leaves. */
export async function adminErrors(ctx: Context, next: Next): Promise<void> {
  ctx.set('Cache-Control', 'no-store');
  try {
    await next();
  } catch (err) {
    const failure = toAdminError(err);
    if (failure.status >= 500 && failure.status !== 503) ctx.state.error = err;
    ctx.status = failure.status;
    ctx.set(failure.headers);
    ctx.body = { error: failure.code, error_description: failure.message };
  }
}

function toAdminError(err: unknown): AdminError {
  if (err instanceof AdminError) return err;
  if (isDatabaseUnavailable(err)) {
    return new AdminError(503, 'temporarily_unavailable', UNAVAILABLE_DESCRIPTION, { 'Retry-After': RETRY_AFTER_SECONDS });
  }
  const status = (err as { status?: unknown }).status;
  // Thrown by the body parser (raw-body / co-body); their messages carry no request data.
  if (status === 413) return new AdminError(413, 'request_too_large', `request body exceeds ${defaults.limits.bodyBytes} bytes`);
  if (status === 400) return new AdminError(400, 'invalid_request', 'request body is not valid JSON');
  if (status === 415) return new AdminError(415, 'unsupported_media_type', 'request body must be application/json');
  if (status === 405) return new AdminError(405, 'method_not_allowed', 'method not allowed on this endpoint');
  if (status === 501) return new AdminError(501, 'not_implemented', 'method not implemented');
  return new AdminError(500, 'server_error', 'unexpected server error');
}

const parseJson = bodyParser({
  enableTypes: ['json'],
  jsonLimit: `${defaults.limits.bodyBytes}b`,
  encoding: 'utf-8',
  // Objects only at the top level: `"x"` or `[1]` is refused by the parser itself.
  jsonStrict: true,
});

/** JSON bodies only: anything else is a 415 before a byte of it is parsed. */
export const jsonBody: Middleware = async (ctx, next) => {
  const hasBody = ctx.request.length !== undefined ? ctx.request.length > 0 : ctx.get('transfer-encoding') !== '';
  if (hasBody && !ctx.is('application/json')) {
    throw new AdminError(415, 'unsupported_media_type', 'request body must be application/json');
  }
  return parseJson(ctx, next);
};

/** Validates a request body or query; the first problem becomes the error description. */
export function parse<S extends z.ZodType>(schema: S, input: unknown, code = 'invalid_request'): z.infer<S> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const where = issue.path.length > 0 ? issue.path.join('.') : 'body';
  throw new AdminError(400, code, `${where}: ${issue.message}`);
}

/** Answers with a status and a JSON body. */
export function reply(ctx: Context, status: number, body: unknown): void {
  ctx.status = status;
  ctx.body = body;
}
