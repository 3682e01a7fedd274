import { createHash, randomBytes } from 'node:crypto';
import type { Collection, Connection } from 'mongoose';

import { defaults } from '../../config/defaults.js';
import type { AccountModel, AccountRecord } from '../db/models/account.js';

/** What an emailed link may do; a token for one purpose never works for another. */
export type TokenPurpose = 'verify_email' | 'reset_password' | 'restore_email';

export interface OneTimeTokenDoc {
  /** SHA-256 of the token (hex): the token itself is never stored. */
  _id: string;
  purpose: TokenPurpose;
  accountId: string;
  /** The address the link was mailed to: it works only while the account still has it
   * (restore_email: the address it gives back). */
  email?: string;
  /** The sign-in the link was sent from, to continue it afterwards (never in the URL). */
  interactionUid?: string;
  /** No later than the account was read to issue it; absent on older records. */
  issuedAt?: Date;
  expiresAt: Date;
}

export type TokenIssue = Omit<OneTimeTokenDoc, '_id' | 'expiresAt' | 'issuedAt'>;

/** A live link and the account it is for, as read when it was opened. */
export interface LiveLink {
  record: OneTimeTokenDoc;
  account: AccountRecord;
}

/**
 * The single-use tokens behind emailed links. The link carries 32 random bytes; we keep
 * only their SHA-256, so a copy of the database opens no account. Lookup is an equality
 * on that hash, so no secret is ever compared byte by byte in our code. Using a token is
 * one atomic delete conditioned on purpose and expiry: of two requests racing with the
 * same link, exactly one gets it.
 */
export class OneTimeTokens {
  readonly #tokens: Collection<OneTimeTokenDoc>;
  readonly #accounts: AccountModel;

  constructor(connection: Connection, accounts: AccountModel) {
    this.#tokens = connection.collection<OneTimeTokenDoc>('one_time_tokens');
    this.#accounts = accounts;
  }

  async ensureIndexes(): Promise<void> {
    await this.#tokens.createIndexes([
      { key: { expiresAt: 1 }, name: 'expiresAt_ttl', expireAfterSeconds: 0 },
      { key: { accountId: 1, purpose: 1 }, name: 'accountId_purpose' },
    ]);
  }

  /**
   * A new token for `issue`, valid for `ttlSeconds`; returns the token for the link.
   * `issuedAt`: when the account was read to decide on it (now by default), so a cut-off
   * that came after that read voids the link even if the record is written later.
   */
  async issue(issue: TokenIssue, ttlSeconds: number, issuedAt = new Date()): Promise<string> {
    const token = randomBytes(defaults.selfService.tokenBytes).toString('base64url');
    await this.#tokens.insertOne({ ...issue, _id: digest(token), issuedAt, expiresAt: new Date(Date.now() + ttlSeconds * 1000) });
    return token;
  }

  /** The live link without using it up (to show the page it opens). */
  async peek(purpose: TokenPurpose, token: string): Promise<LiveLink | undefined> {
    if (!plausible(token)) return undefined;
    const record = await this.#tokens.findOne({ _id: digest(token), purpose, expiresAt: { $gt: new Date() } });
    if (!record) return undefined;
    const account = await this.#accounts.findById(record.accountId).lean();
    return account && stillHolds(record, account) ? { record, account } : undefined;
  }

  /** Uses the link up: the live link, once; undefined for every later attempt. */
  async consume(purpose: TokenPurpose, token: string): Promise<LiveLink | undefined> {
    const link = await this.peek(purpose, token);
    if (!link) return undefined;
    // The conditional delete is the claim: of concurrent requests, exactly one deletes it.
    const claimed = await this.#tokens.deleteOne({ _id: link.record._id, purpose, expiresAt: { $gt: new Date() } });
    return claimed.deletedCount === 1 ? link : undefined;
  }

  /** Deletes every outstanding token of an account for one purpose (tidying: stillHolds decides). */
  async revokeAll(accountId: string, purpose: TokenPurpose): Promise<void> {
    await this.#tokens.deleteMany({ accountId, purpose });
  }

  /** Points the account's live tokens at the sign-in now waiting for them. */
  async attachInteraction(accountId: string, purpose: TokenPurpose, interactionUid: string): Promise<void> {
    await this.#tokens.updateMany({ accountId, purpose, expiresAt: { $gt: new Date() } }, { $set: { interactionUid } });
  }
}

/**
 * Whether a link still speaks for its account. Reset and verification links end with the
 * account's past: one issued at or before its cut-off (a revocation, a password change by
 * any path, disabling) is void, whether or not its record was deleted. They also work only
 * while the account has the address they were mailed to, and a reset link only while that
 * address is verified. A restore link outlives both: it is how the owner of the old address
 * takes the account back after whatever a thief did with it.
 */
function stillHolds(record: OneTimeTokenDoc, account: AccountRecord): boolean {
  if (account.disabled) return false;
  if (record.purpose === 'restore_email') return true;
  if (!record.email || record.email !== account.email) return false;
  if (record.purpose === 'reset_password' && !account.emailVerified) return false;
  const cutOff = account.tokensValidAfter?.getTime();
  return cutOff === undefined || (record.issuedAt !== undefined && record.issuedAt.getTime() > cutOff);
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Only strings shaped like our tokens reach the database. */
function plausible(token: unknown): token is string {
  return typeof token === 'string' && /^[\w-]{20,100}$/.test(token);
}
