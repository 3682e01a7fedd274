import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';

const COOKIE = 'csrf';

/**
 * CSRF protection for our pages that are not bound to an oidc-provider interaction (the
 * reset and verification pages): a random value in a signed, HttpOnly, SameSite=Strict
 * cookie must come back in the form. A cross-site form can neither read the cookie nor
 * make the browser send it. Interaction pages need none: their interaction cookie plays
 * that part.
 */
export function csrfToken(ctx: Context): string {
  const existing = ctx.cookies.get(COOKIE, { signed: true });
  if (existing) return existing;
  const token = randomBytes(24).toString('base64url');
  ctx.cookies.set(COOKIE, token, { signed: true, httpOnly: true, sameSite: 'strict', secure: ctx.secure, path: '/', overwrite: true });
  return token;
}

/** True when the form's `csrf` field matches the cookie; compared in constant time. */
export function csrfValid(ctx: Context, submitted: unknown): boolean {
  const expected = ctx.cookies.get(COOKIE, { signed: true });
  if (!expected || typeof submitted !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(submitted);
  return a.length === b.length && timingSafeEqual(a, b);
}
