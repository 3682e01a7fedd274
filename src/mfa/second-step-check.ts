import { defaults } from '../../config/defaults.js';
import type { AccountRecord } from '../db/models/account.js';
import { clientNetwork } from '../security/client-network.js';
import type { RequestOrigin, SecurityEvents } from '../security/events.js';
import type { LoginThrottle } from '../security/login-throttle.js';
import type { RateLimits } from '../security/rate-limit.js';
import type { Factors } from './factors.js';

export interface SecondStepCheckDeps {
  factors: Factors;
  throttle: LoginThrottle;
  limits: RateLimits;
  events: SecurityEvents;
}

/** What the person typed: a code from their app, or one of their recovery codes. */
export type SecondStepInput = { kind: 'totp' | 'recovery'; code: string };

export type SecondStepCheck =
  | { outcome: 'valid'; recoveryCodesLeft?: number }
  | { outcome: 'invalid' }
  | { outcome: 'locked'; retryAfterSeconds: number };

/**
 * Every code typed as a second step. Whoever types it already knows the password, so the
 * guesses are bounded twice before any code is looked at, each by an atomic reservation:
 * per account from anywhere (a fixed window), and in the password limiter's own counters
 * (username and network), where a wrong code counts as a failed sign-in.
 */
export async function checkSecondStep(
  deps: SecondStepCheckDeps, account: Pick<AccountRecord, '_id' | 'username'>, input: SecondStepInput, origin: Required<Pick<RequestOrigin, 'ip'>> & RequestOrigin,
): Promise<SecondStepCheck> {
  const perAccount = defaults.mfa.codeAttemptsPerAccount;
  if (!(await deps.limits.allow(`mfa-codes:${account._id}`, perAccount))) return { outcome: 'locked', retryAfterSeconds: perAccount.windowSeconds };
  const reservation = await deps.throttle.reserve(account.username, clientNetwork(origin.ip));
  if (!reservation.allowed) return { outcome: 'locked', retryAfterSeconds: reservation.retryAfterSeconds };
  const { attempt } = reservation;
  const where = { accountId: account._id, ip: origin.ip, userAgent: origin.userAgent };
  if (input.kind === 'totp' ? await deps.factors.verifyTotp(account._id, input.code) : false) {
    await attempt.succeeded();
    return { outcome: 'valid' };
  }
  const left = input.kind === 'recovery' ? await deps.factors.useRecoveryCode(account._id, input.code) : undefined;
  if (left !== undefined) {
    await attempt.succeeded();
    await deps.events.record('mfa.recovery_code_used', { ...where, detail: { left } });
    return { outcome: 'valid', recoveryCodesLeft: left };
  }
  const lockouts = await attempt.failed();
  await deps.events.record('mfa.failed', { ...where, detail: { kind: input.kind, locked_out: lockouts.length > 0 } });
  for (const lockout of lockouts) await deps.events.record('login.locked_out', { ...where, detail: { ...lockout } });
  return { outcome: 'invalid' };
}
