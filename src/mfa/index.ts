import type { Connection } from 'mongoose';

import type { Settings } from '../config/settings.js';
import type { AccountModel } from '../db/models/account.js';
import type { KeySealer } from '../keys/sealing.js';
import type { Mailer } from '../mail/mailer.js';
import type { ProviderSource } from '../oidc/provider-host.js';
import type { SecurityEvents } from '../security/events.js';
import type { LoginThrottle } from '../security/login-throttle.js';
import type { RateLimits } from '../security/rate-limit.js';
import { ACR_VALUES } from './acr.js';
import { Challenges } from './challenges.js';
import { FactorChanges } from './factor-changes.js';
import { Factors } from './factors.js';
import { Passkeys, relyingPartyOf } from './passkeys.js';
import { PendingSignIns } from './pending.js';
import { REQUIRE_MFA, stepUpCheck, validateRequireMfa } from './policy.js';
import { SecondStep } from './sign-in.js';

/** What the account center and the admin API manage of the second step. */
export interface TwoStepManagement {
  factors: Factors;
  passkeys: Passkeys;
  changes: FactorChanges;
}

export interface TwoStepDeps {
  settings: Settings;
  connection: Connection;
  sealer: KeySealer;
  accounts: AccountModel;
  providers: ProviderSource;
  throttle: LoginThrottle;
  limits: RateLimits;
  events: SecurityEvents;
  mailer: Mailer;
}

/** Two-step verification as the rest of the server sees it: what it adds to oidc-provider's
 * configuration, the sign-in's second step, and the factors the account center and the
 * admin API manage. */
export async function twoStepVerification(deps: TwoStepDeps) {
  const factors = new Factors(deps.connection, deps.sealer);
  const pending = new PendingSignIns(deps.connection, deps.accounts);
  const challenges = new Challenges(deps.connection);
  await Promise.all([pending.ensureIndexes(), challenges.ensureIndexes()]);
  // Passkeys belong to this issuer's host; the host is also the name authenticators show.
  const passkeys = new Passkeys(deps.connection, factors, challenges, relyingPartyOf(deps.settings.issuer, new URL(deps.settings.issuer).host));
  const changes = new FactorChanges({ events: deps.events, mailer: deps.mailer, issuer: deps.settings.issuer });
  const secondStep = new SecondStep({ ...deps, factors, passkeys, pending, changes });
  return { factors, passkeys, changes, secondStep };
}

/** What two-step verification adds to oidc-provider's configuration (src/oidc/configuration.ts). */
export function twoStepSignIn(settings: Settings) {
  return {
    acrValues: ACR_VALUES,
    loginChecks: [stepUpCheck(settings)],
    clientMetadata: { property: REQUIRE_MFA, validate: validateRequireMfa },
  };
}

export type TwoStep = Awaited<ReturnType<typeof twoStepVerification>>;
