/**
 * Bare oidc-provider for the throughput comparison (bench/throughput.ts): no Koa app, no
 * MongoDB, no metrics, no logs; configured to issue the same client_credentials JWT as our
 * server (same admin client, keys, resource indicator, algorithm and lifetime).
 */
import Provider, { type Configuration } from 'oidc-provider';

import { defaults } from '../config/defaults.js';
import { loadKeyMaterial } from '../src/config/keys.js';
import { loadSettings } from '../src/config/settings.js';
import { resourceCatalog } from '../src/oidc/resources.js';
import { adminClient } from '../src/server.js';

const settings = loadSettings();
const keys = await loadKeyMaterial(settings);
const resources = resourceCatalog(settings);
const provider = new Provider(settings.issuer, {
  clients: [adminClient(settings)],
  jwks: keys.jwks as Configuration['jwks'],
  cookies: { keys: keys.cookieKeys },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
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
