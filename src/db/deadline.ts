import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Middleware } from 'koa';

import { defaults } from '../../config/defaults.js';

/** What one request has left to spend waiting on MongoDB. */
interface RequestBudget {
  readonly startedAt: number;
  spentMs: number;
}

const scope = new AsyncLocalStorage<RequestBudget>();
/** Set inside a budgeted call: its own queries (an adapter method's) are timed by that call. */
const timed = new AsyncLocalStorage<true>();

/** A request's waits on the database ran past its budget; src/db/unavailable.ts answers 503. */
export class DeadlineExceeded extends Error {
  override readonly name = 'DeadlineExceeded';
}

/**
 * Gives each request one budget for all its database waits (`requestDeadlineMs`), instead
 * of each call its own driver timeout: a request making several slow calls still answers
 * 503 within the bound. Only waiting counts, so a sign-in that queued for its password hash
 * is not cut short by the queue.
 */
export function requestDeadline(): Middleware {
  return (_ctx, next) => scope.run({ startedAt: Date.now(), spentMs: 0 }, next);
}

/** When this request started (now outside a request): rotations date their answer from it. */
export function requestStartedAt(): number {
  return scope.getStore()?.startedAt ?? Date.now();
}

/** Runs `call`, giving up with DeadlineExceeded once the request's budget is spent. The call
 * itself is not cancelled (the driver cannot); writes that must not half-apply are single
 * atomic commands (src/oidc/refresh-chain.ts). */
export async function withinDeadline<T>(call: () => Promise<T>): Promise<T> {
  const budget = scope.getStore();
  if (!budget || timed.getStore()) return call();
  const left = defaults.operations.requestDeadlineMs - budget.spentMs;
  if (left <= 0) throw new DeadlineExceeded('the request spent its database budget');
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded(`no database answer within ${defaults.operations.requestDeadlineMs} ms`)), left);
  });
  const running = timed.run(true, call);
  // Whatever the abandoned call does later must not surface as an unhandled rejection.
  running.catch(() => undefined);
  try {
    return await Promise.race([running, expired]);
  } finally {
    clearTimeout(timer);
    budget.spentMs += Date.now() - started;
  }
}

/** Waiting for another request's outcome counts against this request's budget too. */
export function pause(ms: number): Promise<void> {
  return withinDeadline(() => sleep(ms));
}
