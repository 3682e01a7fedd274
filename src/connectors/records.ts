import { createHash } from 'node:crypto';
import type { Collection, Connection } from 'mongoose';

/** Where an upstream provider reads a user's profile: OpenID Connect claims, or JSON paths of an OAuth 2.0 userinfo answer. */
export interface ClaimPaths {
  sub: string;
  email?: string;
  email_verified?: string;
  name?: string;
  preferred_username?: string;
}

interface ConnectorBase {
  _id: string;
  name: string;
  logo_uri?: string;
  enabled: boolean;
  client_id: string;
  /** The client secret as a JWE under KEY_ENCRYPTION_KEY, bound to this connector's id. */
  sealed_secret: string;
  scopes: string;
  created_at: Date;
  updated_at: Date;
}

export interface OidcConnectorRecord extends ConnectorBase {
  type: 'oidc';
  issuer: string;
}

export interface OAuth2ConnectorRecord extends ConnectorBase {
  type: 'oauth2';
  authorization_endpoint: string;
  token_endpoint: string;
  userinfo_endpoint: string;
  claims: ClaimPaths;
}

export type ConnectorRecord = OidcConnectorRecord | OAuth2ConnectorRecord;

/** A user's account at an upstream provider, linked to one of ours: (connector, upstream sub), never an email. */
export interface IdentityRecord {
  _id: string;
  connector_id: string;
  sub: string;
  account_id: string;
  /** What the upstream said at the last sign-in, for people to recognise the identity. */
  email?: string;
  linked_at: Date;
  last_sign_in_at?: Date;
  /** For an account this identity created: a fingerprint of the password hash it was made with, one nobody knows. */
  created_with?: string;
}

export function identityId(connector: { _id: string }, profile: { sub: string }): string {
  return `${connector._id}:${profile.sub}`;
}

/** Tells whether an account still has the unknown password it was created with (not the hash itself). */
export function passwordFingerprint(passwordHash: string): string {
  return createHash('sha256').update(passwordHash).digest('base64url');
}

/** What the upstream said about the user, reduced to what we use. */
export interface UpstreamProfile {
  sub: string;
  email?: string;
  emailVerified: boolean;
  name?: string;
  preferredUsername?: string;
}

/**
 * One per interaction: the upstream request in flight (state, nonce, PKCE verifier), or,
 * after it came back, the identity waiting for the local account's password before linking.
 */
export type PendingRecord = { _id: string; expires_at: Date; connector_id: string } & (
  | { stage: 'upstream'; state: string; nonce: string; verifier: string }
  | { stage: 'link'; account_id: string; profile: UpstreamProfile }
);

/** Which connector an ID token's sign-in came through (`idp`), by account and sign-in second. */
export interface FederatedSignInRecord {
  _id: string;
  idp: string;
  expires_at: Date;
}

export interface ConnectorCollections {
  connectors: Collection<ConnectorRecord>;
  identities: Collection<IdentityRecord>;
  pending: Collection<PendingRecord>;
  signIns: Collection<FederatedSignInRecord>;
}

export function connectorCollections(connection: Connection): ConnectorCollections {
  return {
    connectors: connection.collection<ConnectorRecord>('connectors'),
    identities: connection.collection<IdentityRecord>('identities'),
    pending: connection.collection<PendingRecord>('connector_pending'),
    signIns: connection.collection<FederatedSignInRecord>('federated_sign_ins'),
  };
}

export async function ensureConnectorIndexes(collections: ConnectorCollections): Promise<void> {
  // Unique: two concurrent first sign-ins of one upstream user cannot make two links.
  await collections.identities.createIndex({ connector_id: 1, sub: 1 }, { unique: true });
  await collections.identities.createIndex({ account_id: 1 });
  await collections.pending.createIndex({ expires_at: 1 }, { expireAfterSeconds: 0 });
  await collections.signIns.createIndex({ expires_at: 1 }, { expireAfterSeconds: 0 });
}

/** The one redirect URI per connector that operators register at the upstream. */
export function redirectUriOf(issuer: string, connectorId: string): string {
  return `${issuer}/connectors/${encodeURIComponent(connectorId)}/callback`;
}
