import type { ServerResponse } from 'node:http';
import type { Context } from 'koa';

import { defaults } from '../../config/defaults.js';
import { requestStartedAt } from '../db/deadline.js';
import { RETRY_AFTER_SECONDS, UNAVAILABLE_DESCRIPTION } from '../db/unavailable.js';
import type { Logger } from '../observability/logger.js';
import { providerRoute, type Amendment } from './amendments.js';

/**
 * Whether a rotated refresh token (or an exchanged code) reached the client decides what
 * its predecessor means when it turns up again: a retry after a failed answer, or a second
 * holder. The server only knows that an answer left: it records that once the 200 carrying
 * the new token has been handed to the network, after the response, off its path.
 *
 * Every such answer must leave by its `deliverBy` (the request's start plus the database
 * budget, the time by which a failing request has answered 503): a token response that
 * would leave later becomes a 503 itself, so a token whose time has passed and that is still
 * undelivered reached nobody, and a retry may replace it.
 */

interface Pending {
  deliverBy: number;
  settle: () => Promise<void>;
}

const pending = new WeakMap<ServerResponse, Pending[]>();

/** The time by which the answer of a token committed in this request must have left. */
export function deliverBy(): Date {
  return new Date(requestStartedAt() + defaults.operations.requestDeadlineMs);
}

/** Whether an answer due by `by` can no longer leave, nor its delivery record still land:
 * what it carried reached nobody, and a retry may replace it. */
export function abandoned(by: Date): boolean {
  return by.getTime() + defaults.operations.deliveryRecordMs <= Date.now();
}

/** After a commit: `settle` (mark delivered) runs once the 200 carrying it has been sent. */
export function awaitDelivery(res: ServerResponse, by: Date, settle: () => Promise<void>): void {
  const list = pending.get(res) ?? [];
  list.push({ deliverBy: by.getTime(), settle });
  pending.set(res, list);
}

/** The token endpoint's answers: sent in time and then recorded as delivered, or not sent. */
export function deliveredAnswers(logger: Logger): Amendment {
  return (ctx) => {
    const list = pending.get(ctx.res);
    if (!list || providerRoute(ctx) !== 'token') return undefined;
    pending.delete(ctx.res);
    if (ctx.status !== 200) return undefined;
    if (list.some((p) => p.deliverBy <= Date.now())) {
      tooLate(ctx);
      return undefined;
    }
    ctx.res.once('finish', () => {
      // Whatever ran after this amendment may still have turned the answer into an error.
      if (ctx.res.statusCode !== 200) return;
      for (const p of list) {
        p.settle().catch((err: unknown) => {
          // The token stays "undelivered": a replay of its parent then supersedes it instead
          // of revoking at once, and its holder's next use is reported as reuse.
          logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'delivery of a rotated token not recorded');
        });
      }
    });
    return undefined;
  };
}

/** Too late to hand out: the client retries, as after any 503, and its retry replaces it. */
function tooLate(ctx: Context): void {
  ctx.status = 503;
  ctx.set('Retry-After', RETRY_AFTER_SECONDS);
  ctx.body = { error: 'temporarily_unavailable', error_description: UNAVAILABLE_DESCRIPTION };
}
