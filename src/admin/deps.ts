import type { Context } from 'koa';

import type { ApiCatalog } from '../apis/catalog.js';
import type { Settings } from '../config/settings.js';
import type { ConnectorCatalog } from '../connectors/catalog.js';
import type { LinkedIdentities } from '../connectors/identities.js';
import type { AccountRecord } from '../db/models/account.js';
import type { AccountAdmin } from '../oidc/account-admin.js';
import type { KeyRing } from '../keys/key-ring.js';
import type { AccessTokenVerifier } from '../oidc/access-tokens.js';
import type { ProviderSource } from '../oidc/provider-host.js';
import type { ArtifactStore } from '../oidc/store.js';
import type { CutOffs } from '../revocation/cutoff.js';
import type { SecurityEvents } from '../security/events.js';
import type { TwoStepManagement } from '../mfa/index.js';

/** What the admin API works with; built once in src/server.ts. */
export interface AdminDeps {
  settings: Settings;
  /** The provider for the current key set; read per request. */
  providers: ProviderSource;
  keyRing: KeyRing;
  users: AccountAdmin;
  store: ArtifactStore;
  events: SecurityEvents;
  cutOffs: CutOffs;
  verifyAccessToken: AccessTokenVerifier;
  adminAudience: string;
  /** Registered APIs, roles and client grants. */
  apiCatalog: ApiCatalog;
  /** The admin and account APIs' audiences: not for operators to register. */
  builtInAudiences: readonly string[];
  twoStep: TwoStepManagement;
  /** After an email change: ends the old address's reset links, mails a verification link to
   * the new one (false if it could not be sent). The old address is not told: an operator
   * moves an account away from a mailbox that may be lost. */
  emailChanged: (before: AccountRecord, after: AccountRecord) => Promise<boolean>;
  /** Upstream identity providers and the identities linked through them. */
  connectors: ConnectorCatalog;
  identities: LinkedIdentities;
}

/** Who performed an admin action and from where; goes into security events. */
export interface AdminAudit {
  actor?: string;
  ip?: string;
  userAgent?: string;
}

export function auditOf(ctx: Context): AdminAudit {
  return { actor: ctx.state.adminClientId as string | undefined, ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined };
}

export type { GrantPayload, SessionPayload } from '../oidc/store.js';
export { parsePayload } from '../oidc/store.js';
