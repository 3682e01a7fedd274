import type { Context } from 'koa';

import type { Settings } from '../config/settings.js';
import type { AccountAdmin } from '../oidc/accounts.js';
import type { KeyRing } from '../keys/key-ring.js';
import type { AccessTokenVerifier } from '../oidc/access-tokens.js';
import type { ProviderSource } from '../oidc/provider-host.js';
import type { ArtifactStore } from '../oidc/store.js';
import type { SecurityEvents } from '../security/events.js';

/** What the admin API works with; built once in src/server.ts. */
export interface AdminDeps {
  settings: Settings;
  /** The provider for the current key set; read per request. */
  providers: ProviderSource;
  keyRing: KeyRing;
  users: AccountAdmin;
  store: ArtifactStore;
  events: SecurityEvents;
  verifyAccessToken: AccessTokenVerifier;
  adminAudience: string;
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

/** The parts of oidc-provider's stored payloads the admin API reads. */
export interface SessionPayload {
  jti: string;
  uid: string;
  accountId?: string;
  loginTs?: number;
  exp?: number;
  amr?: string[];
  authorizations?: Record<string, { sid?: string; grantId?: string }>;
}

export interface GrantPayload {
  jti: string;
  accountId: string;
  clientId: string;
  iat: number;
  exp?: number;
  openid?: { scope?: string };
  resources?: Record<string, string>;
}

export function parsePayload<T>(doc: { payload: string }): T {
  return JSON.parse(doc.payload) as T;
}
