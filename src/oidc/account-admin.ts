import { normalizeUsername, type AccountRecord } from '../db/models/account.js';
import { atVersion } from '../revocation/cutoff.js';
import type { Accounts, NewAccount } from './accounts.js';

export interface AccountChanges {
  name?: string | null;
  email?: string | null;
  password?: string;
  disabled?: boolean;
}

export interface AccountListQuery {
  limit: number;
  offset: number;
  usernamePrefix?: string;
}

/** Account management for the admin API (kept apart from the sign-in path above). */
export class AccountAdmin {
  readonly #accounts: Accounts;

  constructor(accounts: Accounts) {
    this.#accounts = accounts;
  }

  create(input: NewAccount): Promise<AccountRecord> {
    return this.#accounts.create(input);
  }

  async find(id: string): Promise<AccountRecord | undefined> {
    return (await this.#accounts.model.findById(id).lean()) ?? undefined;
  }

  async findByUsername(username: string): Promise<AccountRecord | undefined> {
    return (await this.#accounts.model.findOne({ username: { $eq: normalizeUsername(username) } }).lean()) ?? undefined;
  }

  async findByEmail(email: string): Promise<AccountRecord | undefined> {
    return (await this.#accounts.model.findOne({ email: { $eq: email.toLowerCase() } }).lean()) ?? undefined;
  }

  /** One page, by username; the prefix is matched literally (regex characters escaped). */
  async list(query: AccountListQuery): Promise<AccountRecord[]> {
    const filter = query.usernamePrefix ? { username: { $regex: `^${escapeRegex(normalizeUsername(query.usernamePrefix))}` } } : {};
    return this.#accounts.model.find(filter).sort({ username: 1 }).skip(query.offset).limit(query.limit).lean();
  }

  /**
   * A new password moves the account's version in the same write (see dateSignIn), so a
   * sign-in with the old one that is still checking cannot hold. With `expected`, only while
   * the account is still as the change was decided on (its version; for a reset link, the
   * address it went to): a password change decided before a cut-off or an email change
   * does not override what came after. Undefined when the account is gone or moved on.
   */
  async update(id: string, changes: AccountChanges, expected?: { version: number; email?: string }): Promise<AccountRecord | undefined> {
    const $set: Record<string, unknown> = {};
    const $unset: Record<string, 1> = {};
    for (const field of ['name', 'email'] as const) {
      if (changes[field] === null) $unset[field] = 1;
      else if (changes[field] !== undefined) $set[field] = changes[field];
    }
    if (changes.email !== undefined) $set.emailVerified = false;
    if (changes.disabled !== undefined) $set.disabled = changes.disabled;
    const update: Record<string, Record<string, unknown>> = { $set };
    if (changes.password !== undefined) {
      $set.passwordHash = await this.#accounts.hash(changes.password);
      update.$inc = { cutOffVersion: 1 };
    }
    if (Object.keys($unset).length > 0) update.$unset = $unset;
    const filter = {
      _id: id,
      ...(expected ? atVersion(expected.version) : {}),
      ...(expected?.email === undefined ? {} : { email: { $eq: expected.email } }),
    };
    return (await this.#accounts.model.findOneAndUpdate(filter, update, { returnDocument: 'after', runValidators: true }).lean()) ?? undefined;
  }

  async delete(id: string): Promise<boolean> {
    return (await this.#accounts.model.deleteOne({ _id: id })).deletedCount > 0;
  }
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
