import type { Context } from 'koa';

import type { Settings } from '../config/settings.js';
import type { Mailer } from '../mail/mailer.js';
import type { AccountAdmin } from '../oidc/account-admin.js';
import type { Accounts } from '../oidc/accounts.js';
import type { RevocationDeps } from '../revocation/user-past.js';
import type { LoginThrottle } from '../security/login-throttle.js';
import type { RateLimits } from '../security/rate-limit.js';
import type { OneTimeTokens } from './one-time-tokens.js';

/** What sign-up, email verification and password reset work with; built once in src/server.ts. */
export interface SelfServiceDeps extends RevocationDeps {
  settings: Settings;
  accounts: Accounts;
  users: AccountAdmin;
  tokens: OneTimeTokens;
  limits: RateLimits;
  /** A password reset lifts the account's sign-in lockouts. */
  throttle: LoginThrottle;
  mailer: Mailer;
  /** The operator's log (never a token or a password). */
  log: (line: string) => void;
}

/** Where a request came from, for rate limits and the audit record. */
export interface Origin {
  ip: string;
  userAgent?: string;
}

export function originOf(ctx: Context): Origin {
  return { ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined };
}

/** The pages emailed links open; the token is the only thing a link carries. */
export const SELF_SERVICE_PATHS = {
  verifyEmail: '/verify-email',
  forgotPassword: '/password/forgot',
  resetPassword: '/password/reset',
  restoreEmail: '/email/restore',
} as const;

export function linkTo(settings: Settings, path: string, token: string): string {
  const url = new URL(`${settings.issuer}${path}`);
  url.searchParams.set('token', token);
  return url.href;
}
