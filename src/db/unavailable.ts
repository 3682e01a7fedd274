import Provider, { errors } from 'oidc-provider';

import { defaults } from '../../config/defaults.js';
import { withinDeadline } from './deadline.js';

/**
 * The one place that decides "the database is unreachable": every request that needs
 * MongoDB then answers 503 with Retry-After instead of a 500 after the driver's defaults.
 */

export const UNAVAILABLE_DESCRIPTION = 'the service is temporarily unavailable, try again shortly';

/** Driver and mongoose failures that mean "MongoDB cannot be reached right now", not a bad
 * query: stopped or refusing (server selection), partitioned (network or CSOT timeouts). */
const UNREACHABLE = new Set([
  'MongoServerSelectionError',
  'MongooseServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoOperationTimeoutError',
  'MongoPoolClearedError',
  'MongoWaitQueueTimeoutError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  // The request's own budget for database waits ran out (src/db/deadline.ts).
  'DeadlineExceeded',
]);
/** MaxTimeMSExpired: the server itself gave up within our time budget. */
const MAX_TIME_EXPIRED = 50;

export const RETRY_AFTER_SECONDS = String(defaults.operations.retryAfterSeconds);

/** oidc-provider's `temporarily_unavailable` with the HTTP status it deserves (503); its
 * error handlers answer JSON at the token, introspection and revocation endpoints and
 * render the error page (or redirect, once the client is known) at /auth. */
export class DatabaseUnavailable extends errors.TemporarilyUnavailable {
  constructor(options?: { cause?: unknown }) {
    super(UNAVAILABLE_DESCRIPTION, options);
    this.status = 503;
    this.statusCode = 503;
    // Exposed: the error code and description are meant for the client.
    this.expose = true;
  }
}

export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth += 1) {
    if (e instanceof DatabaseUnavailable || UNREACHABLE.has(e.name)) return true;
    if ((e as { code?: unknown }).code === MAX_TIME_EXPIRED) return true;
    // mongoose's own "Operation `x.find()` buffering timed out after …" (bufferCommands on).
    if (e.name === 'MongooseError' && /buffering timed out/.test(e.message)) return true;
  }
  return false;
}

/** Rethrows a database outage as DatabaseUnavailable; anything else unchanged. */
export function asDatabaseUnavailable(err: unknown): unknown {
  if (err instanceof DatabaseUnavailable || !isDatabaseUnavailable(err)) return err;
  return new DatabaseUnavailable({ cause: err });
}

/**
 * Runs one database call for oidc-provider, within the request's budget for database waits
 * (src/db/deadline.ts). Once a request found MongoDB unreachable, its later calls (the
 * authorization error handler's client lookup, the session save in a `finally`) fail at
 * once: one request waits for one budget, not several.
 */
export async function guardedDatabaseCall<T>(call: () => Promise<T>): Promise<T> {
  const ctx = Provider.ctx;
  if (ctx?.state.databaseUnavailable) throw new DatabaseUnavailable();
  try {
    return await withinDeadline(call);
  } catch (err) {
    const mapped = asDatabaseUnavailable(err);
    if (mapped instanceof DatabaseUnavailable && ctx) ctx.state.databaseUnavailable = true;
    throw mapped;
  }
}
