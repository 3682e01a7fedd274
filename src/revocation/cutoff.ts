import { setTimeout as sleep } from 'node:timers/promises';

import { accountById, type AccountModel, type AccountRecord } from '../db/models/account.js';

/** What a sign-in is judged by: the account as its password check read it. */
export type SignInBasis = Pick<AccountRecord, '_id' | 'disabled' | 'tokensValidAfter' | 'cutOffVersion'>;

/**
 * The rule behind "one cut-off for a user's past": an account carries one instant (the
 * `tokensValidAfter` field), and every sign-in, code, token or session timestamped at or
 * before it is void. oidc-provider's timestamps (loginTs, authTime, iat) are whole epoch
 * seconds, so the comparison is in seconds and the cut-off's own second counts as before:
 * something from that second may predate it. A sign-in in that very second is dated the
 * next one (signInSecond), so nothing genuinely newer is ever caught.
 */
export function cutOffSecond(account: Pick<AccountRecord, 'tokensValidAfter'>): number | undefined {
  return account.tokensValidAfter ? Math.floor(account.tokensValidAfter.getTime() / 1000) : undefined;
}

/** True when `epochSeconds` (a loginTs, authTime or iat) lies at or before the account's cut-off. */
export function predatesCutOff(account: Pick<AccountRecord, 'tokensValidAfter'>, epochSeconds: number | undefined): boolean {
  const cutOff = cutOffSecond(account);
  if (cutOff === undefined) return false;
  // Without a timestamp nothing proves the record is newer.
  return epochSeconds === undefined || epochSeconds <= cutOff;
}

/** What an issued artifact stands for: the sign-in behind it, else its own issue time. */
export interface Dated {
  authTime?: number;
  iat?: number;
}

export function signInSecondOf(artifact: Dated): number | undefined {
  return artifact.authTime ?? artifact.iat;
}

/**
 * The loginTs for a password sign-in that has just succeeded. In the cut-off's own second
 * it waits for the next one (at most a second, only right after a revocation), so the
 * new session is not mistaken for the old ones. If this instance's clock lags the one
 * that wrote the cut-off by more than that, it dates the sign-in just after the cut-off.
 */
export async function signInSecond(account: Pick<AccountRecord, 'tokensValidAfter'>): Promise<number> {
  const cutOff = cutOffSecond(account);
  if (cutOff !== undefined) {
    const wait = (cutOff + 1) * 1000 - Date.now();
    if (wait > 0 && wait <= 1000) await sleep(wait);
  }
  return Math.max(Math.floor(Date.now() / 1000), cutOff === undefined ? 0 : cutOff + 1);
}

/** The account's version (0 on records older than the field). */
export function versionOf(account: Pick<AccountRecord, 'cutOffVersion'>): number {
  return account.cutOffVersion ?? 0;
}

/** A filter matching the account only while its version is still `version`. */
export function atVersion(version: number): Record<string, unknown> {
  return version === 0 ? { $or: [{ cutOffVersion: 0 }, { cutOffVersion: { $exists: false } }] } : { cutOffVersion: version };
}

/**
 * Dates a sign-in whose password was checked against `read`, the account as it was read
 * before the (slow) check: first the second (signInSecond), then the account is read
 * again, and unless it is still what was checked (same version, still enabled) the
 * sign-in does not hold (undefined). Every change that ends the account's past moves the
 * version before its cut-off instant is taken (CutOffs.raise, and a new password in its
 * own write), so a change this re-read misses is dated after this second and voids it.
 * (Rehashing the same password at a new cost moves nothing: it changes no one's access.)
 * Never dated by the clock alone: a check that waited in the hashing gate across a
 * password change would count as newer than it.
 */
export async function dateSignIn(model: AccountModel, read: SignInBasis): Promise<number | undefined> {
  const second = await signInSecond(read);
  const now = await model.findById(read._id, { disabled: 1, cutOffVersion: 1 }).lean();
  const unchanged = now !== null && !now.disabled && versionOf(now) === versionOf(read);
  return unchanged ? second : undefined;
}

/** Reads the cut-off state of accounts for the places oidc-provider asks about a sign-in. */
export class CutOffs {
  readonly #accounts: AccountModel;

  constructor(accounts: AccountModel) {
    this.#accounts = accounts;
  }

  /**
   * Whether a sign-in of `accountId` at `loginTs` still counts: the account exists, is
   * enabled, and its cut-off came before that sign-in.
   */
  async isLive(accountId: string, loginTs: number | undefined): Promise<boolean> {
    const account = await accountById(this.#accounts, accountId);
    return account !== null && !account.disabled && !predatesCutOff(account, loginTs);
  }

  /** The account's cut-off state, for dating a sign-in after it. */
  async account(accountId: string): Promise<Pick<AccountRecord, 'tokensValidAfter'> | undefined> {
    return (await this.#accounts.findById(accountId, { tokensValidAfter: 1 }).lean()) ?? undefined;
  }

  /**
   * Moves the account's cut-off to now, never backwards. The version moves first and the
   * instant is taken once that is stored, so a sign-in in flight either sees the new
   * version or is dated before the instant (dateSignIn). Then one conditional update, so
   * two cut-offs racing leave the later one. Returns false for an unknown account.
   */
  async raise(accountId: string): Promise<boolean> {
    const announced = await this.#accounts.updateOne({ _id: accountId }, { $inc: { cutOffVersion: 1 } });
    if (announced.matchedCount === 0) return false;
    const at = new Date();
    await this.#accounts.updateOne(
      { _id: accountId, $or: [{ tokensValidAfter: { $exists: false } }, { tokensValidAfter: { $lt: at } }] },
      { $set: { tokensValidAfter: at } },
    );
    return true;
  }
}
