import type { Collection, Connection } from 'mongoose';
import {
  generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse,
  type AuthenticationResponseJSON, type PublicKeyCredentialCreationOptionsJSON, type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';

import type { AccountRecord } from '../db/models/account.js';
import type { Method } from './acr.js';
import type { Challenges } from './challenges.js';
import { factorCollection, type FactorDoc, type PasskeyRecord, type Factors } from './factors.js';

/** A credential id as WebAuthn encodes it (base64url): safe as a field name, nothing else is. */
const CREDENTIAL_ID = /^[\w-]{16,1366}$/;

/** The relying party passkeys are bound to: this issuer's host and origin. */
export interface RelyingParty {
  id: string;
  origin: string;
  name: string;
}

export function relyingPartyOf(issuer: string, name: string): RelyingParty {
  const url = new URL(issuer);
  return { id: url.hostname, origin: url.origin, name };
}

/** A passkey as the account center lists it. */
export interface PasskeyView {
  id: string;
  name: string;
  createdAt: Date;
  lastUsedAt?: Date;
}

/** A passkey assertion that held: whose, and what it proved (RFC 8176). */
export interface PasskeyProof {
  accountId: string;
  methods: Method[];
}

/**
 * Passkeys and security keys (WebAuthn Level 2) through @simplewebauthn/server: registration
 * and authentication ceremonies bound to this issuer (RP ID = its host, origin = its origin),
 * several credentials per account, each named. The signature counter must move forward,
 * checked with the write (a conditional update), so a cloned authenticator used in parallel
 * is refused; a challenge is answered once (Challenges).
 */
export class Passkeys {
  readonly #collection: Collection<FactorDoc>;
  readonly #factors: Factors;
  readonly #challenges: Challenges;
  readonly #rp: RelyingParty;

  constructor(connection: Connection, factors: Factors, challenges: Challenges, rp: RelyingParty) {
    this.#collection = factorCollection(connection);
    this.#factors = factors;
    this.#challenges = challenges;
    this.#rp = rp;
  }

  async list(accountId: string): Promise<PasskeyView[]> {
    const doc = await this.#collection.findOne({ _id: accountId }, { projection: { passkeys: 1 } });
    return Object.entries(doc?.passkeys ?? {})
      .map(([id, key]) => ({ id, name: key.name, createdAt: key.createdAt, ...(key.lastUsedAt ? { lastUsedAt: key.lastUsedAt } : {}) }))
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }

  /** Options to create a passkey for the account (discoverable, so it can sign in alone). */
  async registrationOptions(account: AccountRecord): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const existing = await this.list(account._id);
    const options = await generateRegistrationOptions({
      rpName: this.#rp.name, rpID: this.#rp.id, userName: account.username, userDisplayName: account.name ?? account.username,
      userID: new TextEncoder().encode(account._id), attestationType: 'none',
      excludeCredentials: existing.map((key) => ({ id: key.id })),
      authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
    });
    return this.#withChallenge(options, await this.#challenges.issue('register', account._id));
  }

  /** Stores the new passkey under `name`; returns the recovery codes when it is the first factor. */
  async register(account: AccountRecord, response: RegistrationResponseJSON, name: string): Promise<string[] | undefined> {
    const expectedChallenge = await this.#challenges.take('register', account._id);
    if (!expectedChallenge) return undefined;
    const result = await verifyRegistrationResponse({
      response, expectedChallenge, expectedOrigin: this.#rp.origin, expectedRPID: this.#rp.id, requireUserVerification: false,
    }).catch(() => undefined);
    if (!result?.verified) return undefined;
    const { credential, credentialBackedUp } = result.registrationInfo;
    if (!CREDENTIAL_ID.test(credential.id)) return undefined;
    const record: PasskeyRecord = {
      publicKey: Buffer.from(credential.publicKey).toString('base64url'), counter: credential.counter,
      ...(credential.transports ? { transports: credential.transports } : {}), name, backedUp: credentialBackedUp, createdAt: new Date(),
    };
    const before = await this.#collection.findOne({ _id: account._id }, { projection: { recovery: 1 } });
    const added = await this.#collection.updateOne(
      { _id: account._id, [`passkeys.${credential.id}`]: { $exists: false } },
      { $set: { [`passkeys.${credential.id}`]: record }, $inc: { passkeyCount: 1 } },
      { upsert: true },
    ).catch(() => undefined);
    if (!added) return undefined;
    return this.#factors.firstFactorCodes(account._id, before);
  }

  /**
   * Options to prove a passkey: any of this site's (a sign-in with no account named yet)
   * or one of `account`'s (the second step after a password). `key` names the ceremony.
   */
  async authenticationOptions(key: string, accountId?: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const allow = accountId ? (await this.list(accountId)).map((passkey) => ({ id: passkey.id })) : undefined;
    const options = await generateAuthenticationOptions({ rpID: this.#rp.id, userVerification: accountId ? 'preferred' : 'required', ...(allow ? { allowCredentials: allow } : {}) });
    return this.#withChallenge(options, await this.#challenges.issue('authenticate', key));
  }

  /**
   * Checks an assertion for the ceremony `key`. Alone (no `accountId`), the passkey must be
   * discoverable and verify its user, and it names the account by its user handle; as a
   * second step it must be one of `accountId`'s. Undefined when anything does not hold.
   */
  async authenticate(key: string, response: AuthenticationResponseJSON, accountId?: string): Promise<PasskeyProof | undefined> {
    const expectedChallenge = await this.#challenges.take('authenticate', key);
    if (!expectedChallenge) return undefined;
    const owner = accountId ?? (response.response.userHandle ? Buffer.from(response.response.userHandle, 'base64url').toString() : undefined);
    if (!owner || !CREDENTIAL_ID.test(response.id)) return undefined;
    const doc = await this.#collection.findOne({ _id: owner }, { projection: { [`passkeys.${response.id}`]: 1 } });
    const stored = doc?.passkeys?.[response.id];
    if (!stored) return undefined;
    const result = await verifyAuthenticationResponse({
      response, expectedChallenge, expectedOrigin: this.#rp.origin, expectedRPID: this.#rp.id, requireUserVerification: !accountId,
      credential: { id: response.id, publicKey: Buffer.from(stored.publicKey, 'base64url'), counter: stored.counter, ...(stored.transports ? { transports: stored.transports } : {}) },
    }).catch(() => undefined);
    if (!result?.verified) return undefined;
    const field = `passkeys.${response.id}`;
    const moved = await this.#collection.updateOne(
      { _id: owner, [`${field}.counter`]: stored.counter },
      { $set: { [`${field}.counter`]: result.authenticationInfo.newCounter, [`${field}.lastUsedAt`]: new Date() } },
    );
    if (moved.matchedCount === 0) return undefined;
    const held: Method = stored.backedUp ? 'swk' : 'hwk';
    return { accountId: owner, methods: result.authenticationInfo.userVerified ? [held, 'user'] : [held] };
  }

  async rename(accountId: string, id: string, name: string): Promise<boolean> {
    if (!CREDENTIAL_ID.test(id)) return false;
    const renamed = await this.#collection.updateOne({ _id: accountId, [`passkeys.${id}`]: { $exists: true } }, { $set: { [`passkeys.${id}.name`]: name } });
    return renamed.matchedCount > 0;
  }

  async remove(accountId: string, id: string): Promise<boolean> {
    if (!CREDENTIAL_ID.test(id)) return false;
    const removed = await this.#collection.updateOne(
      { _id: accountId, [`passkeys.${id}`]: { $exists: true } }, { $unset: { [`passkeys.${id}`]: '' }, $inc: { passkeyCount: -1 } },
    );
    await this.#factors.dropOrphanCodes(accountId);
    return removed.matchedCount > 0;
  }

  /** The options carry the challenge stored for the ceremony (the library's own is replaced). */
  #withChallenge<T extends { challenge: string }>(options: T, challenge: string): T {
    return { ...options, challenge };
  }
}
