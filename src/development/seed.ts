import type { ClientMetadata } from 'oidc-provider';

import { defaults } from '../../config/defaults.js';
import type { Settings } from '../config/settings.js';
import type { Accounts } from '../oidc/accounts.js';
import { MongoAdapter } from '../oidc/adapter.js';
import type { ArtifactStore } from '../oidc/store.js';

const { demoUser, demoClient, demo } = defaults.development;

/**
 * Development only: a demo user and the example third-party app of `npm run demo`, so a
 * newcomer can try "Log in with …" at once. Returns what to print.
 */
export async function seedDevelopment(store: ArtifactStore, accounts: Accounts, settings: Settings): Promise<string> {
  if (!(await accounts.model.exists({ username: demoUser.username }))) {
    // Two instances starting on one database race here; the unique index lets one win.
    await accounts.create({ ...demoUser, emailVerified: true }).catch((err: unknown) => {
      if ((err as { code?: unknown }).code !== 11000) throw err;
    });
  }
  // Written on every start, not only when absent: a data directory from an earlier run (or
  // another DEMO_APP_URL) then still points at the example app that `npm run demo` runs.
  await new MongoAdapter(store, 'Client').upsert(demoClient.client_id, demoClientMetadata(settings.demo.appUrl));

  return [
    'Development seed (not created in production):',
    `  demo user:    ${demoUser.username} / ${demoUser.password}`,
    `  demo client:  ${demoClient.client_id} / ${demoClient.client_secret}  (the example app at ${settings.demo.appUrl})`,
    `  admin client: ${settings.admin.clientId} / ${adminSecretShown(settings)}  (client_credentials, scope=admin)`,
    `  try it:       ${settings.demo.appUrl}  (the example app; \`npm run demo\` runs it beside the provider)`,
    `  your account: ${settings.issuer}/account  (connected apps, devices, password: sign in as the demo user)`,
  ].join('\n');
}

/** The well-known development secret is printed; a secret the operator chose never is. */
function adminSecretShown(settings: Settings): string {
  const secret = settings.admin.clientSecret;
  return secret === defaults.development.adminClientSecret ? secret : '(ADMIN_CLIENT_SECRET)';
}

/**
 * The example app (examples/web-app): a confidential client whose back-channel logout
 * endpoint ends its own session when an administrator revokes the user. Its endpoints are
 * on loopback, so the provider needs OUTBOUND_PRIVATE_NETWORKS=true for the logout token
 * to reach it; the demo launcher sets it.
 */
export function demoClientMetadata(appUrl: string): ClientMetadata {
  const at = (path: string) => new URL(path, appUrl).href;
  return {
    ...demoClient,
    redirect_uris: [at(demo.paths.callback)],
    post_logout_redirect_uris: [at(demo.paths.afterLogout)],
    backchannel_logout_uri: at(demo.paths.backchannelLogout),
    backchannel_logout_session_required: true,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  };
}
