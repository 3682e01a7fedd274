import { createHash } from 'node:crypto';
import type { Collection, Connection } from 'mongoose';

import { defaults } from '../../config/defaults.js';
import { accountById, type AccountModel, type AccountRecord } from '../db/models/account.js';
import { signInSecond, versionOf } from '../revocation/cutoff.js';

/** What the second step must still do: prove the app (or a recovery code), or set one up. */
export type SecondStepMode = 'verify' | 'enrol';

/** A sign-in between its first step and its second, bound to one interaction. */
interface PendingDoc {
  _id: string;
  accountId: string;
  mode: SecondStepMode;
  /** The account as the first step read it: its version and a digest of its password hash. */
  version: number;
  passwordTag: string;
  expiresAt: Date;
}

export interface PendingSignIn {
  uid: string;
  accountId: string;
  mode: SecondStepMode;
}

/**
 * Sign-ins waiting for their second step, keyed by the interaction (which oidc-provider binds
 * to the browser with its cookie). A sign-in completed by a second step is dated like a
 * password sign-in (src/revocation/cutoff.ts): by what its first step read, so a password
 * change, revocation or disable between the two steps voids it, however long it waited.
 */
export class PendingSignIns {
  readonly #collection: Collection<PendingDoc>;
  readonly #accounts: AccountModel;

  constructor(connection: Connection, accounts: AccountModel) {
    this.#collection = connection.collection<PendingDoc>('second_steps');
    this.#accounts = accounts;
  }

  async ensureIndexes(): Promise<void> {
    await this.#collection.createIndexes([{ key: { expiresAt: 1 }, name: 'expiresAt_ttl', expireAfterSeconds: 0 }]);
  }

  async begin(uid: string, account: AccountRecord, mode: SecondStepMode): Promise<void> {
    const doc: PendingDoc = {
      _id: uid, accountId: account._id, mode, version: versionOf(account), passwordTag: tag(account.passwordHash),
      expiresAt: new Date(Date.now() + defaults.mfa.secondStepSeconds * 1000),
    };
    await this.#collection.replaceOne({ _id: uid }, doc, { upsert: true });
  }

  async find(uid: string): Promise<PendingSignIn | undefined> {
    const doc = await this.#collection.findOne({ _id: uid, expiresAt: { $gt: new Date() } });
    return doc ? { uid, accountId: doc.accountId, mode: doc.mode } : undefined;
  }

  /** After enrolment, the same sign-in goes on to verify nothing more: it is complete. */
  async switchTo(uid: string, mode: SecondStepMode): Promise<void> {
    await this.#collection.updateOne({ _id: uid }, { $set: { mode } });
  }

  /**
   * Ends the pending sign-in (once: a second request finds nothing) and dates it: whose it
   * is and the epoch second it counts from, or undefined when the account changed since its
   * first step.
   */
  async complete(uid: string): Promise<{ accountId: string; ts: number } | undefined> {
    // Read, then claimed by the delete: of two requests racing, one deletes it and goes on.
    const doc = await this.#collection.findOne({ _id: uid, expiresAt: { $gt: new Date() } });
    if (!doc || (await this.#collection.deleteOne({ _id: uid, mode: doc.mode })).deletedCount === 0) return undefined;
    const ts = await dateSince(this.#accounts, doc.accountId, doc);
    return ts === undefined ? undefined : { accountId: doc.accountId, ts };
  }
}

/**
 * The epoch second a sign-in counts from, when the account is still as its first proof
 * read it (`basis`: its version, and with a password its hash's digest); undefined when it
 * changed since (a password change, revocation, disable) or is gone. The second is taken
 * first, then the account is read again: a change the re-read misses is dated after it.
 */
export async function dateSince(model: AccountModel, accountId: string, basis: { version: number; passwordTag?: string }): Promise<number | undefined> {
  const before = await accountById(model, accountId);
  if (!before) return undefined;
  const second = await signInSecond(before);
  const now = await model.findById(accountId, { passwordHash: 1, disabled: 1, cutOffVersion: 1 }).lean();
  if (!now || now.disabled || versionOf(now) !== basis.version) return undefined;
  return basis.passwordTag === undefined || tag(now.passwordHash) === basis.passwordTag ? second : undefined;
}

function tag(passwordHash: string): string {
  return createHash('sha256').update(passwordHash).digest('base64url');
}
