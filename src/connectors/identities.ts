import type { AccountRecord } from '../db/models/account.js';
import type { RequestOrigin, SecurityEvents } from '../security/events.js';
import { passwordFingerprint, type ConnectorCollections, type IdentityRecord } from './records.js';

/** A linked identity as people see it: the connector by name, never a token. */
export interface LinkedIdentity {
  id: string;
  connectorId: string;
  /** Absent when the connector was removed. */
  connectorName?: string;
  sub: string;
  email?: string;
  linkedAt: Date;
  lastSignInAt?: Date;
}

export type Unlinking = 'unlinked' | 'not_found' | 'last_way_in';

/**
 * The identities linked to an account, for the account center and the admin API alike:
 * one place decides what unlinking may do (a user keeps at least one way to sign in; an
 * operator may remove any) and records it.
 */
export class LinkedIdentities {
  readonly #collections: ConnectorCollections;
  readonly #events: SecurityEvents;

  constructor(collections: ConnectorCollections, events: SecurityEvents) {
    this.#collections = collections;
    this.#events = events;
  }

  async list(accountId: string): Promise<LinkedIdentity[]> {
    const identities = await this.#collections.identities.find({ account_id: { $eq: accountId } }).sort({ linked_at: 1 }).toArray();
    const ids = [...new Set(identities.map((identity) => identity.connector_id))];
    const connectors = await this.#collections.connectors.find({ _id: { $in: ids } }, { projection: { name: 1 } }).toArray();
    const names = new Map(connectors.map((connector) => [connector._id, connector.name]));
    return identities.map((identity) => ({
      id: identity._id, connectorId: identity.connector_id, connectorName: names.get(identity.connector_id), sub: identity.sub,
      email: identity.email, linkedAt: identity.linked_at, lastSignInAt: identity.last_sign_in_at,
    }));
  }

  /**
   * The user's own unlink: refused when it would leave no way in, that is no other identity
   * and no password of their own (an account made by a connector has one nobody knows
   * until "Forgot password?" or a change sets it).
   */
  async unlinkByUser(account: AccountRecord, identityId: string, origin: RequestOrigin & { actor?: string }): Promise<Unlinking> {
    const identities = await this.#collections.identities.find({ account_id: { $eq: account._id } }).toArray();
    const target = identities.find((identity) => identity._id === identityId);
    if (!target) return 'not_found';
    const passwordless = !hasOwnPassword(account, identities);
    if (identities.length === 1 && passwordless) return 'last_way_in';
    if (!passwordless) return this.#remove(target, { ...origin, by: 'user' });
    // Two unlinks at once could each leave the other as the last way in: claim by deleting,
    // then look again, and put this one back if nothing is left.
    if ((await this.#collections.identities.deleteOne({ _id: target._id })).deletedCount === 0) return 'not_found';
    if (await this.#collections.identities.countDocuments({ account_id: { $eq: account._id } }) === 0) {
      await this.#collections.identities.insertOne(target);
      return 'last_way_in';
    }
    await this.#record(target, { ...origin, by: 'user' });
    return 'unlinked';
  }

  /** An operator's unlink (admin API): always allowed. */
  async unlinkByAdmin(accountId: string, identityId: string, origin: RequestOrigin & { actor?: string }): Promise<Unlinking> {
    const target = await this.#collections.identities.findOne({ _id: { $eq: identityId }, account_id: { $eq: accountId } });
    return target ? this.#remove(target, { ...origin, by: 'admin' }) : 'not_found';
  }

  /** A deleted account's identities go with it, so its upstream user would start afresh. */
  async removeAll(accountId: string): Promise<void> {
    await this.#collections.identities.deleteMany({ account_id: { $eq: accountId } });
  }

  async #remove(target: IdentityRecord, origin: RequestOrigin & { actor?: string; by: 'user' | 'admin' }): Promise<Unlinking> {
    const { deletedCount } = await this.#collections.identities.deleteOne({ _id: target._id, account_id: target.account_id });
    if (deletedCount === 0) return 'not_found';
    await this.#record(target, origin);
    return 'unlinked';
  }

  async #record(target: IdentityRecord, origin: RequestOrigin & { actor?: string; by: 'user' | 'admin' }): Promise<void> {
    const name = (await this.#collections.connectors.findOne({ _id: target.connector_id }, { projection: { name: 1 } }))?.name;
    await this.#events.record('identity.unlinked', {
      accountId: target.account_id, ip: origin.ip, userAgent: origin.userAgent,
      detail: { connector: name ?? target.connector_id, by: origin.by, ...(origin.actor ? { actor: origin.actor } : {}) },
    });
  }
}

function hasOwnPassword(account: AccountRecord, identities: IdentityRecord[]): boolean {
  const current = passwordFingerprint(account.passwordHash);
  return !identities.some((identity) => identity.created_with === current);
}
