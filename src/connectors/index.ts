import type { Connection } from 'mongoose';

import type { Settings } from '../config/settings.js';
import type { KeySealer } from '../keys/sealing.js';
import type { Accounts } from '../oidc/accounts.js';
import type { IdTokenClaims } from '../oidc/configuration.js';
import type { ProviderSource } from '../oidc/provider-host.js';
import type { SecurityEvents } from '../security/events.js';
import type { LoginThrottle } from '../security/login-throttle.js';
import { ConnectorCatalog } from './catalog.js';
import { FederatedSignIns } from './federated-sign-ins.js';
import { Federation } from './federation.js';
import { LinkedIdentities } from './identities.js';
import { connectorCollections, ensureConnectorIndexes } from './records.js';
import { connectorRoutes, type SecondFactor } from './routes.js';
import { Upstreams, type OutboundFetch } from './upstream.js';

export interface ConnectorFeatureDeps {
  settings: Settings;
  connection: Connection;
  sealer: KeySealer;
  accounts: Accounts;
  events: SecurityEvents;
  throttle: LoginThrottle;
  /** Requests to upstream providers: through oidc-provider's, so OUTBOUND_PRIVATE_NETWORKS and its SSRF guard apply alike. */
  outboundFetch: OutboundFetch;
  /** The second step a link asks of an account that has one. */
  secondFactor: SecondFactor;
}

/** Sign-in through upstream providers, as the server composes it: the catalog, the routes, the login page's buttons and the ID token's `idp`. */
export async function connectorFeature(deps: ConnectorFeatureDeps) {
  const { settings, accounts, events, throttle } = deps;
  const collections = connectorCollections(deps.connection);
  await ensureConnectorIndexes(collections);
  // Plain-http upstreams (a provider on the developer's machine) only outside production.
  const upstreams = new Upstreams(settings.issuer, !settings.production, deps.outboundFetch);
  const catalog = new ConnectorCatalog(collections, deps.sealer, upstreams, settings.production);
  const federation = new Federation(collections, accounts, events, settings.registration === 'open');
  const signIns = new FederatedSignIns(collections.signIns, settings.ttl.grant);

  const idTokenClaims: IdTokenClaims = async (accountId, token) => {
    const idp = await signIns.idpOf(accountId, token);
    return idp ? { idp } : {};
  };
  return {
    catalog,
    identities: new LinkedIdentities(collections, events),
    idTokenClaims,
    routes: (providers: ProviderSource) => connectorRoutes({
      providers, catalog, upstreams, federation, signIns, credentials: { accounts, throttle, events }, secondFactor: deps.secondFactor,
    }),
    /** The "Continue with …" buttons of the login page. */
    async loginOptions(uid: string) {
      const connectors = (await catalog.enabled()).map((connector) => ({
        name: connector.name, url: `/interaction/${uid}/connectors/${encodeURIComponent(connector._id)}`,
      }));
      return { connectors };
    },
  };
}

export type ConnectorFeature = Awaited<ReturnType<typeof connectorFeature>>;
