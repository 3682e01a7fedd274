import { defaults } from '../../config/defaults.js';
import type { Settings } from '../config/settings.js';
import type { Accounts } from '../oidc/accounts.js';
import { MongoAdapter } from '../oidc/adapter.js';
import type { ArtifactStore } from '../oidc/store.js';

const { demoUser, demoClient } = defaults.development;

/**
 * Development only: a demo user and a demo third-party app, created if absent, so a
 * newcomer can try "Log in with …" right after `npm start`. Returns what to print.
 */
export async function seedDevelopment(store: ArtifactStore, accounts: Accounts, settings: Settings): Promise<string> {
  if (!(await accounts.model.exists({ username: demoUser.username }))) {
    // Two instances starting on one database race here; the unique index lets one win.
    await accounts.create({ ...demoUser, emailVerified: true }).catch((err: unknown) => {
      if ((err as { code?: unknown }).code !== 11000) throw err;
    });
  }
  const clients = new MongoAdapter(store, 'Client');
  if (!(await clients.find(demoClient.client_id))) {
    await clients.upsert(demoClient.client_id, {
      ...demoClient,
      redirect_uris: [...demoClient.redirect_uris],
      post_logout_redirect_uris: [...demoClient.post_logout_redirect_uris],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    });
  }

  const authorize = new URL('/auth', settings.issuer);
  authorize.search = new URLSearchParams({
    client_id: demoClient.client_id,
    response_type: 'code',
    scope: 'openid profile email offline_access',
    prompt: 'consent',
    redirect_uri: demoClient.redirect_uris[0],
    state: 'demo-state',
    nonce: 'demo-nonce',
  }).toString();

  return [
    'Development seed (not created in production):',
    `  demo user:    ${demoUser.username} / ${demoUser.password}`,
    `  demo client:  ${demoClient.client_id} / ${demoClient.client_secret}  (redirect ${demoClient.redirect_uris[0]})`,
    `  admin client: ${settings.admin.clientId} / ${adminSecretShown(settings)}  (client_credentials, scope=admin)`,
    `  try it:       ${authorize.href}`,
  ].join('\n');
}

/** The well-known development secret is printed; a secret the operator chose never is. */
function adminSecretShown(settings: Settings): string {
  const secret = settings.admin.clientSecret;
  return secret === defaults.development.adminClientSecret ? secret : '(ADMIN_CLIENT_SECRET)';
}
