import type { Client, KoaContextWithOIDC, RefreshToken } from 'oidc-provider';

import { defaults } from '../../config/defaults.js';
import type { Settings } from '../config/settings.js';

/** Client metadata a client may carry to override the server-wide refresh-token policy. */
export const REFRESH_CLIENT_METADATA = [
  'refresh_token_rotation',
  'refresh_token_idle_ttl',
  'refresh_token_absolute_ttl',
  'refresh_token_grace_period',
] as const;

export interface RefreshPolicy {
  rotate: boolean;
  idleTtl: number;
  absoluteTtl: number;
  graceSeconds: number;
}

type Metadata = Partial<Record<(typeof REFRESH_CLIENT_METADATA)[number], unknown>>;

/** The policy in force for one client: its own metadata where set, else the settings. */
export function refreshPolicyFor(settings: Settings, client: Client | undefined): RefreshPolicy {
  const meta = (client?.metadata() ?? {}) as Metadata;
  const base = settings.refreshToken;
  return {
    rotate: typeof meta.refresh_token_rotation === 'boolean' ? meta.refresh_token_rotation : base.rotate,
    idleTtl: typeof meta.refresh_token_idle_ttl === 'number' ? meta.refresh_token_idle_ttl : base.idleTtl,
    absoluteTtl: typeof meta.refresh_token_absolute_ttl === 'number' ? meta.refresh_token_absolute_ttl : base.absoluteTtl,
    graceSeconds: typeof meta.refresh_token_grace_period === 'number' ? meta.refresh_token_grace_period : base.graceSeconds,
  };
}

/**
 * Idle lifetime for each token, capped by the family's absolute lifetime counted from
 * the first issue (`iiat`), so rotation can never extend a family past it.
 */
export function refreshTokenTtl(settings: Settings) {
  return (_ctx: KoaContextWithOIDC, token: RefreshToken, client: Client): number => {
    const policy = refreshPolicyFor(settings, client);
    const now = Math.floor(Date.now() / 1000);
    const familyStart = token.iiat ?? token.iat ?? now;
    const remaining = familyStart + policy.absoluteTtl - now;
    return Math.max(1, Math.min(policy.idleTtl, remaining));
  };
}

/** Validates the per-client overrides when a client is registered. */
export function validateRefreshMetadata(key: string, value: unknown): void {
  if (value === undefined) return;
  if (key === 'refresh_token_rotation') {
    if (typeof value !== 'boolean') throw new TypeError(`${key} must be a boolean`);
    return;
  }
  const max = key === 'refresh_token_grace_period' ? defaults.refreshToken.maxGraceSeconds : Number.MAX_SAFE_INTEGER;
  const min = key === 'refresh_token_grace_period' ? 0 : 1;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`${key} must be an integer between ${min} and ${max}`);
  }
}
