import { Schema, type Connection, type Model } from 'mongoose';

import { dropIndexes, existingIndexes } from '../indexes.js';

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
// The account center's activity list; the retention index on `at` is ensureEventRetention's.
schema.index({ accountId: 1, at: -1 });

export type SecurityEventModel = Model<SecurityEventRecord>;

export function securityEventModel(connection: Connection): SecurityEventModel {
  return (connection.models.SecurityEvent as SecurityEventModel | undefined)
    ?? connection.model<SecurityEventRecord>('SecurityEvent', schema);
}

/** The TTL index that bounds the collection; its expiry follows EVENTS_RETENTION_DAYS. */
export const EVENT_RETENTION_INDEX = 'at_ttl';

/** The migration that drops the indexes earlier versions created on `events` and no query uses. */
export async function dropUnusedEventIndexes(model: SecurityEventModel, warn: (line: string) => void): Promise<void> {
  await dropIndexes(model.collection, ['grantId_1', 'type_1_at_-1'], warn);
}

/**
 * Deletes security events `days` after they happened (MongoDB's TTL monitor). Created on
 * first start; on an existing deployment whose setting changed, the expiry is changed in
 * place (collMod), without rebuilding the index.
 */
export async function ensureEventRetention(model: SecurityEventModel, days: number, warn: (line: string) => void): Promise<void> {
  const expireAfterSeconds = days * 24 * 60 * 60;
  const current = (await existingIndexes(model.collection)).find((index) => index.name === EVENT_RETENTION_INDEX);
  if (!current) {
    await model.collection.createIndex({ at: 1 }, { name: EVENT_RETENTION_INDEX, expireAfterSeconds });
    return;
  }
  if (current.expireAfterSeconds === expireAfterSeconds) return;
  try {
    await model.db.db!.command({ collMod: model.collection.collectionName, index: { name: EVENT_RETENTION_INDEX, expireAfterSeconds } });
  } catch (err) {
    if ((err as { codeName?: unknown }).codeName !== 'CommandNotFound') throw err;
    // A MongoDB-compatible server without collMod: the old retention stays, and the operator is told.
    warn(`events: EVENTS_RETENTION_DAYS=${days} not applied, events are still kept ${(current.expireAfterSeconds ?? 0) / 86_400} days (the database has no collMod command)`);
  }
}
