import type Provider from 'oidc-provider';
import type { Configuration } from 'oidc-provider';

import type { KeyMaterial } from '../config/keys.js';
import type { Settings } from '../config/settings.js';
import type { ArtifactStore } from '../oidc/store.js';
import type { SecurityEvents } from '../security/events.js';
import { deviceFlowFeature } from './device-flow.js';
import { dpopFeature } from './dpop.js';
import { registrationFeatures } from './registration.js';

export type ProtocolFeatures = Pick<NonNullable<Configuration['features']>,
  'dPoP' | 'pushedAuthorizationRequests' | 'deviceFlow' | 'registration' | 'registrationManagement'>;

/** The ways in beyond the browser code flow: DPoP, PAR, the device grant and dynamic
 * registration, as oidc-provider features; discovery advertises exactly these. */
export function protocolFeatures(settings: Settings, keys: KeyMaterial, store: ArtifactStore): ProtocolFeatures {
  return {
    dPoP: dpopFeature(settings.protocols, keys.cookieKeys[0]!),
    pushedAuthorizationRequests: {
      enabled: true,
      requirePushedAuthorizationRequests: settings.protocols.requirePar,
      allowUnregisteredRedirectUris: false,
    },
    deviceFlow: deviceFlowFeature(settings.protocols),
    ...registrationFeatures(settings, store),
  };
}

/** Each dynamically registered client is a security event, as an operator's registration is. */
export function auditRegistrations(provider: Provider, events: SecurityEvents): void {
  provider.on('registration_create.success', (ctx, client) => {
    void events.record('client.registered', {
      clientId: client.clientId, ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined, detail: { dynamic: true },
    }).catch(() => undefined);
  });
}

export { userCodeThrottle } from './device-flow.js';
