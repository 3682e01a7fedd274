import { createHash, randomBytes } from 'node:crypto';
import type { Collection, Connection } from 'mongoose';

import { defaults } from '../../config/defaults.js';

/** What an emailed link may do; a token for one purpose never works for another. */
export type TokenPurpose = 'verify_email' | 'reset_password';

export interface OneTimeTokenDoc {
  /** SHA-256 of the token (hex): the token itself is never stored. */
  _id: string;
  purpose: TokenPurpose;
  accountId: string;
  /** verify_email: the address the link confirms; a later email change voids it. */
  email?: string;
  /** The sign-in the link was sent from, to continue it afterwards (never in the URL). */
  interactionUid?: string;
  expiresAt: Date;
}

export type TokenIssue = Omit<OneTimeTokenDoc, '_id' | 'expiresAt'>;

/**
 * The single-use tokens behind emailed links. The link carries 32 random bytes; we keep
 * only their SHA-256, so a copy of the database opens no account. Lookup is an equality
 * on that hash, so no secret is ever compared byte by byte in our code. Using a token is
 * one atomic delete conditioned on purpose and expiry: of two requests racing with the
 * same link, exactly one gets it.
 */
export class OneTimeTokens {
  readonly #tokens: Collection<OneTimeTokenDoc>;

  constructor(connection: Connection) {
    this.#tokens = connection.collection<OneTimeTokenDoc>('one_time_tokens');
  }

  async ensureIndexes(): Promise<void> {
    await this.#tokens.createIndexes([
      { key: { expiresAt: 1 }, name: 'expiresAt_ttl', expireAfterSeconds: 0 },
      { key: { accountId: 1, purpose: 1 }, name: 'accountId_purpose' },
    ]);
  }

  /** A new token for `issue`, valid for `ttlSeconds`; returns the token for the link. */
  async issue(issue: TokenIssue, ttlSeconds: number): Promise<string> {
    const token = randomBytes(defaults.selfService.tokenBytes).toString('base64url');
    await this.#tokens.insertOne({ ...issue, _id: digest(token), expiresAt: new Date(Date.now() + ttlSeconds * 1000) });
    return token;
  }

  /** The live token's record without using it up (to show the page the link opens). */
  async peek(purpose: TokenPurpose, token: string): Promise<OneTimeTokenDoc | undefined> {
    if (!plausible(token)) return undefined;
    return (await this.#tokens.findOne({ _id: digest(token), purpose, expiresAt: { $gt: new Date() } })) ?? undefined;
  }

  /** Uses the token up: its record if it was live, once; undefined for every later attempt. */
  async consume(purpose: TokenPurpose, token: string): Promise<OneTimeTokenDoc | undefined> {
    const record = await this.peek(purpose, token);
    if (!record) return undefined;
    // The conditional delete is the claim: of concurrent requests, exactly one deletes it.
    const claimed = await this.#tokens.deleteOne({ _id: record._id, purpose, expiresAt: { $gt: new Date() } });
    return claimed.deletedCount === 1 ? record : undefined;
  }

  /** Voids every outstanding token of an account for one purpose (after a reset succeeds). */
  async revokeAll(accountId: string, purpose: TokenPurpose): Promise<void> {
    await this.#tokens.deleteMany({ accountId, purpose });
  }

  /** Points the account's live tokens at the sign-in now waiting for them. */
  async attachInteraction(accountId: string, purpose: TokenPurpose, interactionUid: string): Promise<void> {
    await this.#tokens.updateMany({ accountId, purpose, expiresAt: { $gt: new Date() } }, { $set: { interactionUid } });
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Only strings shaped like our tokens reach the database. */
function plausible(token: unknown): token is string {
  return typeof token === 'string' && /^[\w-]{20,100}$/.test(token);
}
