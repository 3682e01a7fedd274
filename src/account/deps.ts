import type { LinkedIdentities } from '../connectors/identities.js';
import type { AccessTokenVerifier } from '../oidc/access-tokens.js';
import type { ActionDeps } from './actions.js';
import type { OverviewDeps } from './overview.js';
import type { ConfirmationDeps } from './password-confirmation.js';
import type { SignInDeps } from './sign-in.js';
import type { TwoStepManagement } from '../mfa/index.js';

/** What the account center works with; built once in src/server.ts. */
export interface AccountCenterDeps extends SignInDeps, OverviewDeps, ActionDeps, ConfirmationDeps {
  verifyAccessToken: AccessTokenVerifier;
  accountAudience: string;
  twoStep: TwoStepManagement;
  /** Sign-in options at upstream providers linked to the account. */
  identities: LinkedIdentities;
}
