import { Secret, TOTP } from 'otpauth';

import { defaults } from '../../config/defaults.js';

const { digits, periodSeconds, window } = defaults.mfa.totp;

/** A new authenticator-app secret (RFC 4226's recommended 160 bits), as base32 for people. */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** The otpauth:// URI an authenticator app scans: SHA-1, 6 digits, 30 s (RFC 6238's defaults). */
export function totpUri(secret: string, issuer: string, label: string): string {
  return totp(secret, issuer, label).toString();
}

/**
 * The time step a code belongs to, when it is right for `secret` within ±`window` steps of
 * now; undefined otherwise. The caller accepts each step once (no replay in its window).
 */
export function totpStep(secret: string, code: string, now = Date.now()): number | undefined {
  if (!/^\d+$/.test(code) || code.length !== digits) return undefined;
  const delta = totp(secret).validate({ token: code, timestamp: now, window });
  return delta === null ? undefined : Math.floor(now / 1000 / periodSeconds) + delta;
}

function totp(secret: string, issuer = '', label = ''): TOTP {
  return new TOTP({ issuer, label, algorithm: 'SHA1', digits, period: periodSeconds, secret: Secret.fromBase32(secret) });
}
