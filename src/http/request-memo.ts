import { AsyncLocalStorage } from 'node:async_hooks';
import type { Middleware } from 'koa';

const scope = new AsyncLocalStorage<Map<string, Promise<unknown>>>();

/** Gives each request its own memo (see memoized); nothing outlives the request. */
export function requestMemo(): Middleware {
  return (_ctx, next) => scope.run(new Map(), next);
}

/**
 * Within one request, the answer of the first `load` for `key`: a request that checks the
 * same record in several places (oidc-provider asks for the account more than once) reads
 * it once and judges it by one state throughout. Outside a request, loads every time.
 */
export function memoized<T>(key: string, load: () => Promise<T>): Promise<T> {
  const memo = scope.getStore();
  if (!memo) return load();
  let answer = memo.get(key) as Promise<T> | undefined;
  if (!answer) {
    answer = load();
    memo.set(key, answer);
  }
  return answer;
}

/** After a write within a request: its memoized reads whose keys start with `prefix` load
 * again, so the request sees what it wrote. */
export function forgetMemoized(prefix: string): void {
  const memo = scope.getStore();
  if (!memo) return;
  for (const key of memo.keys()) if (key.startsWith(prefix)) memo.delete(key);
}
