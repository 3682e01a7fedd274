import { createHash, randomBytes } from 'node:crypto';
import type { Collection, Connection } from 'mongoose';

import { defaults } from '../../config/defaults.js';
import type { KeySealer } from '../keys/sealing.js';
import { newTotpSecret, totpStep, totpUri } from './totp.js';

/** One document per account that has (or is setting up) a second step. */
export interface FactorDoc {
  _id: string;
  /** The authenticator app's secret, sealed under KEY_ENCRYPTION_KEY; the last step accepted. */
  totp?: { sealed: string; addedAt: Date; lastStep: number };
  /** A secret shown for enrolment, not yet confirmed with a code. */
  pendingTotp?: { sealed: string; startedAt: Date };
  /** Recovery codes by their SHA-256: each is removed when used. */
  recovery?: { codes: Record<string, true>; createdAt: Date };
  /** Passkeys by credential id (src/mfa/passkeys.ts), and how many there are. */
  passkeys?: Record<string, PasskeyRecord>;
  passkeyCount?: number;
}

export interface PasskeyRecord {
  /** COSE public key, base64url. */
  publicKey: string;
  counter: number;
  transports?: string[];
  name: string;
  /** Synced between devices (a software-held key, `swk`) rather than bound to one (`hwk`). */
  backedUp: boolean;
  createdAt: Date;
  lastUsedAt?: Date;
}

/** The collection of every account's factors. */
export function factorCollection(connection: Connection): Collection<FactorDoc> {
  return connection.collection<FactorDoc>('account_factors');
}

/** Accounts with a second step: an authenticator app or at least one passkey. */
const HAS_FACTOR = { $or: [{ totp: { $exists: true } }, { passkeyCount: { $gt: 0 } }] };

/** What the account has, never its secrets. */
export interface FactorState {
  totp: boolean;
  passkeys: number;
  /** Since when the app was added. */
  totpAddedAt?: Date;
  recoveryCodesLeft: number;
}

/** The kinds of second step an account has, as the admin API names them. */
export type FactorKind = 'totp' | 'passkey' | 'recovery_codes';

/**
 * Second-step factors in MongoDB. Every check that must happen once is one conditional
 * update: a code's time step is accepted only if later than the last one accepted (no
 * replay within its window, even from two instances at once), a recovery code is used by
 * removing it, and an enrolment completes only for the secret that was shown.
 */
export class Factors {
  readonly #collection: Collection<FactorDoc>;
  readonly #sealer: KeySealer;

  constructor(connection: Connection, sealer: KeySealer) {
    this.#collection = factorCollection(connection);
    this.#sealer = sealer;
  }

  async state(accountId: string): Promise<FactorState> {
    const doc = await this.#collection.findOne({ _id: accountId }, { projection: { 'totp.addedAt': 1, recovery: 1, passkeyCount: 1 } });
    return {
      totp: doc?.totp !== undefined,
      passkeys: doc?.passkeyCount ?? 0,
      ...(doc?.totp ? { totpAddedAt: doc.totp.addedAt } : {}),
      recoveryCodesLeft: Object.keys(doc?.recovery?.codes ?? {}).length,
    };
  }

  /** Whether the account has a second step to ask for. */
  async hasFactor(accountId: string): Promise<boolean> {
    return (await this.#collection.findOne({ _id: accountId, ...HAS_FACTOR }, { projection: { _id: 1 } })) !== null;
  }

  async kinds(accountId: string): Promise<FactorKind[]> {
    const state = await this.state(accountId);
    return [
      ...(state.totp ? ['totp' as const] : []), ...(state.passkeys > 0 ? ['passkey' as const] : []),
      ...(state.recoveryCodesLeft > 0 ? ['recovery_codes' as const] : []),
    ];
  }

  /** The secret of an enrolment in progress, to show it again (a wrong code, a reload). */
  async pendingTotp(accountId: string, issuer: string, label: string): Promise<{ secret: string; uri: string } | undefined> {
    const doc = await this.#collection.findOne({ _id: accountId }, { projection: { pendingTotp: 1 } });
    if (!doc?.pendingTotp) return undefined;
    const secret = await this.#unseal(accountId, doc.pendingTotp.sealed);
    return { secret, uri: totpUri(secret, issuer, label) };
  }

  /** A new secret to show (QR code and text); it replaces any enrolment not yet confirmed. */
  async startTotp(accountId: string, issuer: string, label: string): Promise<{ secret: string; uri: string }> {
    const secret = newTotpSecret();
    const sealed = await this.#seal(accountId, secret);
    await this.#collection.updateOne({ _id: accountId }, { $set: { pendingTotp: { sealed, startedAt: new Date() } } }, { upsert: true });
    return { secret, uri: totpUri(secret, issuer, label) };
  }

  /**
   * Completes the enrolment with a code from the app. Returns the recovery codes when this
   * is the account's first factor (shown once), [] when it already had codes, or undefined
   * for a wrong code or no enrolment in progress.
   */
  async confirmTotp(accountId: string, code: string): Promise<string[] | undefined> {
    const doc = await this.#collection.findOne({ _id: accountId });
    if (!doc?.pendingTotp) return undefined;
    const step = totpStep(await this.#unseal(accountId, doc.pendingTotp.sealed), code);
    if (step === undefined) return undefined;
    const moved = await this.#collection.updateOne(
      { _id: accountId, 'pendingTotp.sealed': doc.pendingTotp.sealed },
      { $set: { totp: { sealed: doc.pendingTotp.sealed, addedAt: new Date(), lastStep: step } }, $unset: { pendingTotp: '' } },
    );
    if (moved.matchedCount === 0) return undefined;
    return this.firstFactorCodes(accountId, doc);
  }

  /** Recovery codes come with the first factor (shown once); an account that has some keeps them ([]). */
  async firstFactorCodes(accountId: string, doc: Pick<FactorDoc, 'recovery'> | null): Promise<string[]> {
    return doc?.recovery && Object.keys(doc.recovery.codes).length > 0 ? [] : this.newRecoveryCodes(accountId);
  }

  /** A code from the account's app, accepted once. */
  async verifyTotp(accountId: string, code: string): Promise<boolean> {
    const doc = await this.#collection.findOne({ _id: accountId }, { projection: { totp: 1 } });
    if (!doc?.totp) return false;
    const step = totpStep(await this.#unseal(accountId, doc.totp.sealed), code);
    if (step === undefined) return false;
    const claimed = await this.#collection.updateOne(
      { _id: accountId, 'totp.sealed': doc.totp.sealed, 'totp.lastStep': { $lt: step } },
      { $set: { 'totp.lastStep': step } },
    );
    return claimed.matchedCount > 0;
  }

  /** Uses one recovery code; returns how many are left, or undefined if it was not one. */
  async useRecoveryCode(accountId: string, code: string): Promise<number | undefined> {
    const field = `recovery.codes.${digest(normalizeRecoveryCode(code))}`;
    const used = await this.#collection.findOneAndUpdate(
      { _id: accountId, [field]: { $exists: true } }, { $unset: { [field]: '' } }, { returnDocument: 'after', projection: { recovery: 1 } },
    );
    return used ? Object.keys(used.recovery?.codes ?? {}).length : undefined;
  }

  /** A new set of recovery codes, shown once; the old set stops working. */
  async newRecoveryCodes(accountId: string): Promise<string[]> {
    const { count, bytes } = defaults.mfa.recoveryCodes;
    const codes = Array.from({ length: count }, () => formatRecoveryCode(randomBytes(bytes).toString('hex')));
    const stored = Object.fromEntries(codes.map((code) => [digest(normalizeRecoveryCode(code)), true as const]));
    await this.#collection.updateOne({ _id: accountId }, { $set: { recovery: { codes: stored, createdAt: new Date() } } }, { upsert: true });
    return codes;
  }

  /** Removes the app; with no factor left, the recovery codes go too (they recover nothing). */
  async removeTotp(accountId: string): Promise<boolean> {
    const removed = await this.#collection.updateOne({ _id: accountId, totp: { $exists: true } }, { $unset: { totp: '' } });
    await this.dropOrphanCodes(accountId);
    return removed.matchedCount > 0;
  }

  /** Recovery codes of an account with no factor left recover nothing: they go. */
  async dropOrphanCodes(accountId: string): Promise<void> {
    await this.#collection.updateOne(
      { _id: accountId, totp: { $exists: false }, $or: [{ passkeyCount: { $exists: false } }, { passkeyCount: { $lte: 0 } }] },
      { $unset: { recovery: '' } },
    );
  }

  /** Every factor of the account (an operator's reset, or the account deleted). */
  async removeAll(accountId: string): Promise<boolean> {
    return (await this.#collection.deleteOne({ _id: accountId })).deletedCount > 0;
  }

  // The ciphertext names its account: a record copied onto another account does not open.
  #seal(accountId: string, secret: string): Promise<string> {
    return this.#sealer.seal(`totp:${accountId}`, { kty: 'oct', k: Buffer.from(secret).toString('base64url') });
  }

  async #unseal(accountId: string, sealed: string): Promise<string> {
    const jwk = await this.#sealer.unseal(`totp:${accountId}`, sealed);
    return Buffer.from(jwk.k!, 'base64url').toString();
  }
}

/** `a1b2-c3d4-e5f6-a7b8`: easy to read out and type. */
function formatRecoveryCode(hex: string): string {
  return hex.match(/.{4}/g)!.join('-');
}

/** Case, spaces and dashes do not matter when typing a code. */
function normalizeRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[^0-9a-f]/g, '');
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
