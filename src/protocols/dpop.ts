import { hkdfSync } from 'node:crypto';
import type { Configuration } from 'oidc-provider';

import type { ProtocolSettings } from '../config/settings.js';

type DPoPFeature = NonNullable<Configuration['features']>['dPoP'];

/**
 * DPoP (RFC 9449): oidc-provider binds tokens requested with a proof to the proof's key
 * (`cnf.jkt`), and a public client's refresh tokens too. Nonces (`DPoP-Nonce`) are HMACs
 * over time steps under a secret every instance must share, so the secret is derived from
 * the signing cookie key, which all instances read from MongoDB; when that key rotates,
 * clients are simply handed a fresh nonce.
 */
export function dpopFeature(settings: ProtocolSettings, cookieKey: string): DPoPFeature {
  return {
    enabled: true,
    nonceSecret: Buffer.from(hkdfSync('sha256', cookieKey, '', 'oidc-server DPoP nonces', 32)),
    requireNonce: () => settings.dpopRequireNonce,
  };
}
