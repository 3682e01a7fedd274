import type { Account, AccountClaims, FindAccount } from 'oidc-provider';

import type { AccountModel, AccountRecord } from '../db/models/account.js';
import { decoyHash, hashPassword, verifyPassword } from '../security/password.js';

export interface NewAccount {
  username: string;
  password: string;
  name?: string;
  email?: string;
  emailVerified?: boolean;
}

/** User accounts: sign-in checks and the claims oidc-provider releases. */
export class Accounts {
  readonly #model: AccountModel;
  readonly #scryptN: number;
  #decoy: Promise<string> | undefined;

  constructor(model: AccountModel, scryptN: number) {
    this.#model = model;
    this.#scryptN = scryptN;
  }

  get model(): AccountModel {
    return this.#model;
  }

  async create(input: NewAccount): Promise<AccountRecord> {
    const passwordHash = await hashPassword(input.password, this.#scryptN);
    const doc = await this.#model.create({
      username: input.username,
      passwordHash,
      name: input.name,
      email: input.email,
      emailVerified: input.emailVerified ?? false,
    });
    return doc.toObject();
  }

  /**
   * Returns the account only for a matching, enabled username and password. Callers pass
   * plain strings (validated at the edge); the query is an equality on a string, so no
   * operator object can reach MongoDB. Unknown users cost one hash too, so timing does not
   * reveal whether a username exists.
   */
  async authenticate(username: string, password: string): Promise<AccountRecord | undefined> {
    const account = await this.#model.findOne({ username: { $eq: username } }).lean();
    if (!account) {
      this.#decoy ??= decoyHash(this.#scryptN);
      await verifyPassword(password, await this.#decoy);
      return undefined;
    }
    const ok = await verifyPassword(password, account.passwordHash);
    return ok && !account.disabled ? account : undefined;
  }

  /** oidc-provider's findAccount: a disabled or deleted user has no account, so refresh,
   * userinfo and session resumption all fail for them. */
  findAccount: FindAccount = async (_ctx, sub) => {
    const account = await this.#model.findById(sub).lean();
    if (!account || account.disabled) return undefined;
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
