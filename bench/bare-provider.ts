/**
 * Bare oidc-provider for the throughput comparison (bench/throughput.ts): no Koa app, no
 * MongoDB, no metrics, no logs; configured to issue the same client_credentials JWT as our
 * server (same admin client, keys, resource indicator, algorithm and lifetime) with the
 * same endpoints enabled, so that what the comparison weighs is our layers around the
 * provider, not how many routes oidc-provider matches against.
 */
import Provider, { type Configuration } from 'oidc-provider';

import { defaults } from '../config/defaults.js';
import { loadSettings } from '../src/config/settings.js';
import { freshPrivateJwk } from '../src/keys/minting.js';
import { resourceCatalog } from '../src/oidc/resources.js';
import { PROVIDER_ROUTES } from '../src/oidc/routes.js';
import { adminClient } from '../src/server.js';

const settings = loadSettings();
// The same kind of keys ours signs with (one signing key of the configured algorithm).
const signingKey = await freshPrivateJwk(settings.signingAlg);
const cookieKey = await freshPrivateJwk('cookie');
// The admin token needs no registered API; nothing else is asked of this provider.
const resources = resourceCatalog(settings, { resourceServer: async () => undefined, tokenClaims: async () => undefined });
const provider = new Provider(settings.issuer, {
  clients: [adminClient(settings)],
  jwks: { keys: [signingKey] } as Configuration['jwks'],
  cookies: { keys: [cookieKey.k!] },
  routes: PROVIDER_ROUTES,
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: resources.defaultResource,
      getResourceServerInfo: resources.getResourceServerInfo,
      useGrantedResource: () => true,
    },
  } as Configuration['features'],
  ttl: { ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? defaults.ttl.clientCredentials },
});
provider.listen(settings.port, () => console.log(`bare oidc-provider listening on port ${settings.port}`));
// A clean exit, so `--cpu-prof` (BENCH_CPU_PROF) writes its profile.
process.once('SIGTERM', () => process.exit(0));
