import { Schema, type Connection, type Model } from 'mongoose';

export const SECURITY_EVENT_TYPES = [
  'refresh_token.reuse_detected',
  'refresh_token.family_revoked',
  'refresh_token.grace_retry',
  'refresh_token.retried',
  'refresh_token.expired_use',
  'login.locked_out',
  'login.failed',
  'user.revoked',
  'user.disabled',
  'user.deleted',
  'user.password_changed',
  'user.signed_up',
  'user.email_verified',
  'user.password_reset_requested',
  'mail.failed',
  'grant.revoked',
  'key.rotated',
  'key.revoked',
  'session.signed_in',
  'grant.removed_by_user',
  'session.ended_by_user',
  'profile.changed',
  'initial_access_token.created',
  'initial_access_token.revoked',
  'client.registered',
  'mfa.totp_added',
  'mfa.totp_removed',
  'mfa.passkey_added',
  'mfa.passkey_removed',
  'mfa.recovery_codes_generated',
  'mfa.recovery_code_used',
  'mfa.failed',
  'user.mfa_reset',
  'upstream.signed_in',
  'upstream.refused',
  'identity.linked',
  'identity.unlinked',
] as const;

export type SecurityEventType = (typeof SECURITY_EVENT_TYPES)[number];

/** An audit record. Never holds a token value, only identifiers. */
export interface SecurityEventRecord {
  at: Date;
  type: SecurityEventType;
  accountId?: string;
  clientId?: string;
  grantId?: string;
  ip?: string;
  userAgent?: string;
  detail?: Record<string, unknown>;
}

const schema = new Schema<SecurityEventRecord>(
  {
    at: { type: Date, required: true, default: () => new Date() },
    type: { type: String, required: true, enum: SECURITY_EVENT_TYPES },
    accountId: String,
    clientId: String,
    grantId: String,
    ip: String,
    userAgent: String,
    detail: { type: Schema.Types.Mixed },
  },
  { versionKey: false, collection: 'events' },
);
schema.index({ accountId: 1, at: -1 });
schema.index({ grantId: 1 });
schema.index({ type: 1, at: -1 });

export type SecurityEventModel = Model<SecurityEventRecord>;

export function securityEventModel(connection: Connection): SecurityEventModel {
  return (connection.models.SecurityEvent as SecurityEventModel | undefined)
    ?? connection.model<SecurityEventRecord>('SecurityEvent', schema);
}
