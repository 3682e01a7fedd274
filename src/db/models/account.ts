import { randomUUID } from 'node:crypto';
import { Schema, type Connection, type Model } from 'mongoose';

import { memoized } from '../../http/request-memo.js';

/**
 * Usernames are case-insensitive: stored and looked up in this one form, so `Alice` signs in
 * as `alice`, two accounts can never differ only in case, and the sign-in throttle counts
 * `ALICE` and `alice` as the same name.
 */
export function normalizeUsername(username: string): string {
  return username.trim().normalize('NFKC').toLowerCase();
}

export interface AccountRecord {
  _id: string;
  username: string;
  passwordHash: string;
  name?: string;
  email?: string;
  emailVerified: boolean;
  disabled: boolean;
  /** Tokens issued before this instant are dead (admin revocation); compared with a JWT's iat. */
  tokensValidAfter?: Date;
  /**
   * Moves on every change that ends the account's past (a cut-off, a new password), before
   * that change's instant is taken: a sign-in that re-reads it unchanged after dating itself
   * is dated before any such change (src/revocation/cutoff.ts). Absent on older records: 0.
   */
  cutOffVersion?: number;
  createdAt: Date;
  updatedAt: Date;
}

const accountSchema = new Schema<AccountRecord>(
  {
    // The `sub` claim: a random id, never the username, so a rename does not change identity.
    _id: { type: String, default: () => randomUUID() },
    username: { type: String, required: true, unique: true, set: normalizeUsername, maxlength: 128 },
    passwordHash: { type: String, required: true },
    name: { type: String, maxlength: 256 },
    email: { type: String, maxlength: 320, lowercase: true, trim: true },
    emailVerified: { type: Boolean, default: false },
    disabled: { type: Boolean, default: false },
    tokensValidAfter: { type: Date },
    cutOffVersion: { type: Number, default: 0 },
  },
  { timestamps: true, versionKey: false, collection: 'accounts' },
);

export type AccountModel = Model<AccountRecord>;

/** Names the unique email index, so a duplicate-key error can say which field clashed. */
export const EMAIL_INDEX = 'email_unique';

/**
 * One account per email address, case-insensitively: the stored email is the lower-case
 * copy (the schema lowercases on every write) under a unique sparse index (accounts
 * without email stay possible). Records written before this rule may hold mixed case
 * (lowercased once, by lowercaseLegacyEmails) or duplicates: then the server starts
 * without the index and says so, and the code paths that set an email still refuse a
 * taken one (only a race between two of them could then slip through).
 */
export async function ensureUniqueEmails(model: AccountModel, log: (line: string) => void): Promise<void> {
  try {
    await model.collection.createIndex({ email: 1 }, { name: EMAIL_INDEX, unique: true, sparse: true });
  } catch (err) {
    if ((err as { code?: unknown }).code !== 11000) throw err;
    log('accounts: some accounts share an email address; fix them (admin API PATCH /admin/users/{id}) and restart to enforce unique emails');
  }
}

/** Accounts read per round trip by the migration below: small enough for one reply within the database timeout. */
const MIGRATION_PAGE = 500;

/**
 * The migration that lowercases emails stored before the schema did: run once per database
 * (src/db/migrations.ts), in pages along `_id`, so no single query scans the collection.
 * An address whose lower-case form another account already holds is left as it was and
 * reported; ensureUniqueEmails then says the index could not be built.
 */
export async function lowercaseLegacyEmails(model: AccountModel, log: (line: string) => void): Promise<void> {
  // The driver's own collection for updates: the schema's lowercase setter would rewrite the filter's email too.
  const raw = model.db.collection<AccountRecord>(model.collection.collectionName);
  let after: string | undefined;
  for (;;) {
    const page = await model.find(after === undefined ? {} : { _id: { $gt: after } }, { email: 1 })
      .sort({ _id: 1 }).limit(MIGRATION_PAGE).lean();
    for (const { _id, email } of page) {
      if (!email || email === email.toLowerCase()) continue;
      try {
        await raw.updateOne({ _id, email }, { $set: { email: email.toLowerCase() } });
      } catch (err) {
        if ((err as { code?: unknown }).code !== 11000) throw err;
        log(`accounts: account ${_id} keeps its mixed-case email: another account holds its lower-case form`);
      }
    }
    if (page.length < MIGRATION_PAGE) return;
    after = page.at(-1)!._id;
  }
}

/** Which unique field a duplicate-key error from the accounts collection is about. */
export function duplicateField(err: unknown): 'username' | 'email' | undefined {
  const e = err as { code?: unknown; keyPattern?: Record<string, unknown>; message?: unknown };
  if (e?.code !== 11000) return undefined;
  if (e.keyPattern) return 'email' in e.keyPattern ? 'email' : 'username';
  return typeof e.message === 'string' && e.message.includes(EMAIL_INDEX) ? 'email' : 'username';
}

export function accountModel(connection: Connection): AccountModel {
  return (connection.models.Account as AccountModel | undefined) ?? connection.model<AccountRecord>('Account', accountSchema);
}

/**
 * The account by id, read once per request however many checks ask (the session's cut-off,
 * findAccount): a request is judged by the account as it was when the request first looked,
 * as if it had run at that instant; anything it mints carries its sign-in time, which every
 * later request checks against the cut-off again. Treat the record as read-only.
 */
export function accountById(model: AccountModel, id: string): Promise<AccountRecord | null> {
  return memoized(`account:${id}`, () => model.findById(id).lean<AccountRecord>().exec());
}
