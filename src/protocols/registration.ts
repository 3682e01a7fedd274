import { isIP } from 'node:net';
import { errors, type ClientMetadata, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';

import type { Settings } from '../config/settings.js';
import { REFRESH_CLIENT_METADATA } from '../oidc/refresh-policy.js';
import { RESOURCE_SERVER_AUDIENCES } from '../oidc/client-rules.js';
import type { ArtifactStore } from '../oidc/store.js';

type Features = NonNullable<Configuration['features']>;

/** The policies every initial access token carries, run by oidc-provider on each registration
 * and, through the registration access token, on each update (RFC 7592). */
export const REGISTRATION_POLICIES = ['operator-rules', 'use-count'] as const;

/** Client metadata only an operator may set: it widens what the client may do or see. */
const OPERATOR_ONLY = [RESOURCE_SERVER_AUDIENCES, ...REFRESH_CLIENT_METADATA] as const;

/** Metadata naming URLs this server itself will call. */
const OUTBOUND_URIS = ['backchannel_logout_uri', 'jwks_uri', 'sector_identifier_uri'] as const;

/**
 * Dynamic client registration (RFC 7591) with registration management (RFC 7592), off
 * unless DYNAMIC_REGISTRATION=on, and then only for holders of an initial access token an
 * operator created (src/admin/initial-access-tokens.ts). A registered client passes the same
 * validation as one the admin API registers: oidc-provider's schema and our client rules.
 */
export function registrationFeatures(settings: Settings, store: ArtifactStore): Pick<Features, 'registration' | 'registrationManagement'> {
  const enabled = settings.protocols.dynamicRegistration;
  return {
    registration: {
      enabled,
      initialAccessToken: true,
      issueRegistrationAccessToken: true,
      policies: {
        'operator-rules': (_ctx: KoaContextWithOIDC, metadata: ClientMetadata) => {
          refuseOperatorOnly(metadata);
          if (!settings.outboundPrivateNetworks) refusePrivateTargets(metadata);
        },
        // Last, and only for a client that is valid as a whole (oidc-provider's own check,
        // run again when it stores the client), so a refused registration costs no use.
        'use-count': async (ctx: KoaContextWithOIDC, metadata: ClientMetadata) => {
          const token = ctx.oidc.entities.InitialAccessToken;
          if (!token) return; // an update through the registration access token
          await ctx.oidc.provider.Client.validate(metadata);
          const spent = await store.collection('InitialAccessToken').updateOne(
            { _id: token.jti, usesLeft: { $gt: 0 } }, { $inc: { usesLeft: -1 } },
          );
          if (spent.matchedCount === 0) throw new errors.InvalidToken('initial access token has no registrations left');
        },
      },
    },
    registrationManagement: { enabled, rotateRegistrationAccessToken: true },
  };
}

function refuseOperatorOnly(metadata: ClientMetadata): void {
  const named = OPERATOR_ONLY.find((key) => metadata[key] !== undefined);
  if (named) throw new errors.InvalidClientMetadata(`${named} can only be set by an operator`);
}

/** Literal private or loopback targets; names are checked again when called (the outbound guard). */
function refusePrivateTargets(metadata: ClientMetadata): void {
  for (const key of OUTBOUND_URIS) {
    const value = metadata[key];
    if (typeof value !== 'string') continue;
    const host = URL.parse(value)?.hostname.replace(/^\[|\]$/g, '') ?? '';
    if (host === 'localhost' || host.endsWith('.localhost') || isPrivateAddress(host)) {
      throw new errors.InvalidClientMetadata(`${key} must not point to a private or loopback address`);
    }
  }
}

function isPrivateAddress(host: string): boolean {
  const version = isIP(host);
  if (version === 4) return /^(10\.|127\.|0\.|169\.254\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(host);
  if (version === 6) return /^(::1?$|f[cd]|fe[89ab]|::ffff:)/i.test(host);
  return false;
}
