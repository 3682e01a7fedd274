import type { Collection, Connection } from 'mongoose';

import { defaults } from '../../config/defaults.js';
import { accountById, type AccountModel, type AccountRecord } from '../db/models/account.js';
import { dateSignIn, versionOf } from '../revocation/cutoff.js';

/** What the second step must still do: prove the app (or a recovery code), or set one up. */
export type SecondStepMode = 'verify' | 'enrol';

/** A sign-in between its first step and its second, bound to one interaction. */
interface PendingDoc {
  _id: string;
  accountId: string;
  mode: SecondStepMode;
  /** The account's version as the first step read it (src/revocation/cutoff.ts). */
  version: number;
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
      _id: uid, accountId: account._id, mode, version: versionOf(account),
      expiresAt: new Date(Date.now() + defaults.mfa.secondStepSeconds * 1000),
    };
    await this.#collection.replaceOne({ _id: uid }, doc, { upsert: true });
  }

  async find(uid: string): Promise<PendingSignIn | undefined> {
    const doc = await this.#collection.findOne({ _id: uid, expiresAt: { $gt: new Date() } });
    return doc ? { uid, accountId: doc.accountId, mode: doc.mode } : undefined;
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
    // Dated as its first step would have been (dateSignIn), against the version it read then.
    const account = await accountById(this.#accounts, doc.accountId);
    const ts = account ? await dateSignIn(this.#accounts, { ...account, cutOffVersion: doc.version }) : undefined;
    return ts === undefined ? undefined : { accountId: doc.accountId, ts };
  }
}
