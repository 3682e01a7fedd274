import type { Account, AccountClaims, FindAccount } from 'oidc-provider';

import { dateSignIn, predatesCutOff, signInSecondOf } from '../revocation/cutoff.js';
import type { PasswordSettings } from '../config/settings.js';
import { accountById, normalizeUsername, type AccountModel, type AccountRecord } from '../db/models/account.js';
import { HashGate } from '../security/hash-gate.js';
import { decoyHash, hashPassword, needsRehash, verifyPassword, type Argon2Params } from '../security/password.js';

export interface NewAccount {
  /** Chosen by the caller when something must name the account before it exists (a linked identity). */
  id?: string;
  username: string;
  password: string;
  name?: string;
  email?: string;
  emailVerified?: boolean;
}

/** What a password check found. */
export type PasswordCheck =
  /** `signedInAt`: the epoch second the sign-in counts from (dateSignIn). */
  | { outcome: 'valid'; account: AccountRecord; signedInAt: number }
  | { outcome: 'invalid' }
  /** The password matched the account as read, but the account changed during the check. */
  | { outcome: 'changed' };

/** User accounts: sign-in checks and the claims oidc-provider releases. */
export class Accounts {
  readonly #model: AccountModel;
  readonly #argon2: Argon2Params;
  /** Every sign-in's password check passes through here (see HashGate). */
  readonly passwordChecks: HashGate;
  #decoy: Promise<string> | undefined;

  constructor(model: AccountModel, password: PasswordSettings) {
    this.#model = model;
    this.#argon2 = password.argon2;
    this.passwordChecks = new HashGate(password.gate);
  }

  get model(): AccountModel {
    return this.#model;
  }

  /** A new password's hash at the current cost (admin actions: not gated). */
  hash(password: string): Promise<string> {
    return hashPassword(password, this.#argon2);
  }

  async create(input: NewAccount): Promise<AccountRecord> {
    const passwordHash = await this.hash(input.password);
    const doc = await this.#model.create({
      ...(input.id ? { _id: input.id } : {}),
      username: normalizeUsername(input.username),
      passwordHash,
      name: input.name,
      email: input.email,
      emailVerified: input.emailVerified ?? false,
    });
    return doc.toObject();
  }

  /**
   * Checks a username and password. Callers pass plain strings (validated at the edge); the
   * query is an equality on a string, so no operator object can reach MongoDB. Unknown
   * users cost one hash at the current cost too, so timing does not reveal whether a
   * username exists. A match is dated by the account as it was read (dateSignIn), never by
   * the clock after the wait. Throws HashGateFull when password hashing is at capacity,
   * overall or for the client's network.
   */
  async authenticate(username: string, password: string, network: string): Promise<PasswordCheck> {
    const account = await this.#model.findOne({ username: { $eq: normalizeUsername(username) } }).lean();
    if (!account) {
      this.#decoy ??= decoyHash(this.#argon2);
      const decoy = await this.#decoy;
      await this.passwordChecks.run(network, () => verifyPassword(password, decoy));
      return { outcome: 'invalid' };
    }
    const ok = await this.passwordChecks.run(network, () => verifyPassword(password, account.passwordHash));
    if (!ok || account.disabled) return { outcome: 'invalid' };
    const signedInAt = await dateSignIn(this.#model, account);
    if (signedInAt === undefined) return { outcome: 'changed' };
    await this.#upgradeHash(account, password, network);
    return { outcome: 'valid', account, signedInAt };
  }

  /**
   * Rehashes a legacy scrypt or cheaper argon2id hash at the current cost, now that we hold
   * the password. Conditioned on the old hash still being stored, so a password changed in
   * the meantime is never overwritten. Best effort: sign-in does not depend on it, and a
   * full gate just leaves the upgrade to the next sign-in.
   */
  async #upgradeHash(account: AccountRecord, password: string, network: string): Promise<void> {
    if (!needsRehash(account.passwordHash, this.#argon2)) return;
    try {
      const passwordHash = await this.passwordChecks.run(network, () => this.hash(password));
      await this.#model.updateOne({ _id: account._id, passwordHash: { $eq: account.passwordHash } }, { $set: { passwordHash } });
    } catch (err) {
      console.warn(`[accounts] password hash upgrade failed for ${account._id}: ${(err as Error).message}`);
    }
  }

  /**
   * oidc-provider's findAccount: a disabled or deleted user has no account, so refresh,
   * userinfo and session resumption all fail for them. With a token (code exchange,
   * refresh, userinfo), the sign-in it stands for must also be newer than the user's
   * cut-off: a code or refresh token minted by a request in flight across a revocation
   * carries the old sign-in time and is refused. (Sessions are checked where they are
   * read: src/oidc/session-adapter.ts.)
   */
  findAccount: FindAccount = async (_ctx, sub, token) => {
    const account = await accountById(this.#model, sub);
    if (!account || account.disabled) return undefined;
    if (token && predatesCutOff(account, signInSecondOf(token))) return undefined;
    return toOidcAccount(account);
  };
}

function toOidcAccount(account: AccountRecord): Account {
  return {
    accountId: account._id,
    async claims(): Promise<AccountClaims> {
      return {
        sub: account._id,
        preferred_username: account.username,
        name: account.name,
        email: account.email,
        email_verified: account.email ? account.emailVerified : undefined,
      };
    },
  };
}
