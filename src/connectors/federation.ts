import { randomBytes, randomUUID } from 'node:crypto';

import { defaults } from '../../config/defaults.js';
import { duplicateField, normalizeUsername, type AccountRecord } from '../db/models/account.js';
import type { Accounts } from '../oidc/accounts.js';
import type { RequestOrigin, SecurityEvents } from '../security/events.js';
import { identityId, passwordFingerprint, type ConnectorCollections, type ConnectorRecord, type UpstreamProfile } from './records.js';

export type FederatedOutcome =
  | { kind: 'signed_in'; account: AccountRecord; created: boolean }
  /** The upstream's email is a local account's: its owner must prove it before the link. */
  | { kind: 'link'; account: AccountRecord }
  | { kind: 'refused'; reason: 'disabled' | 'registration_closed' | 'retry'; message: string };

export const REFUSALS = {
  disabled: 'This account is disabled. Contact the administrator.',
  registration_closed: 'There is no account for you here, and new accounts cannot be created. Sign in with an existing account, or ask the administrator.',
  retry: 'Your account is being set up by another sign-in. Please try again.',
} as const;

const USERNAME_TRIES = 5;

/**
 * Decides which account an upstream identity signs in to. Identities are (connector,
 * upstream sub), never an email: a known identity is its account; a new one whose email is
 * a local account's is never linked here (the owner must prove the account first); any
 * other new one gets an account just in time, unless registration is closed.
 */
export class Federation {
  readonly #collections: ConnectorCollections;
  readonly #accounts: Accounts;
  readonly #events: SecurityEvents;
  readonly #registrationOpen: boolean;

  constructor(collections: ConnectorCollections, accounts: Accounts, events: SecurityEvents, registrationOpen: boolean) {
    this.#collections = collections;
    this.#accounts = accounts;
    this.#events = events;
    this.#registrationOpen = registrationOpen;
  }

  async resolve(connector: ConnectorRecord, profile: UpstreamProfile, origin: RequestOrigin): Promise<FederatedOutcome> {
    const known = await this.#collections.identities.findOne({ connector_id: connector._id, sub: { $eq: profile.sub } });
    if (known) return this.#signIn(known.account_id, connector, profile, origin, false);
    if (profile.email) {
      const holder = await this.#accounts.model.findOne({ email: { $eq: profile.email } }).lean();
      if (holder) return holder.disabled ? refuse('disabled') : { kind: 'link', account: holder };
    }
    if (!this.#registrationOpen) {
      await this.#events.record('upstream.refused', { ...origin, detail: { connector: connector.name, reason: 'registration_closed' } });
      return refuse('registration_closed');
    }
    return this.#createAccount(connector, profile, origin);
  }

  /** Links the identity after the local account's owner proved it, then signs in. */
  async link(connector: ConnectorRecord, profile: UpstreamProfile, accountId: string, origin: RequestOrigin): Promise<FederatedOutcome> {
    const linked = await this.#reserve(connector, profile, accountId);
    if (!linked) return this.resolve(connector, profile, origin);
    await this.#events.record('identity.linked', { accountId, ...origin, detail: { connector: connector.name, upstream_email: profile.email } });
    return this.#signIn(accountId, connector, profile, origin, false);
  }

  /**
   * Reserve first: the identity is inserted naming the account it will get, so two
   * concurrent first sign-ins of one upstream user cannot make two accounts.
   */
  async #createAccount(connector: ConnectorRecord, profile: UpstreamProfile, origin: RequestOrigin): Promise<FederatedOutcome> {
    const accountId = randomUUID();
    if (!(await this.#reserve(connector, profile, accountId))) return this.resolve(connector, profile, origin);
    const created = await this.#newAccount(accountId, profile);
    if (created !== 'email_taken') {
      // Its password is one nobody knows; noted so unlinking can tell whether the user has set their own since.
      await this.#collections.identities.updateOne({ _id: identityId(connector, profile) }, { $set: { created_with: passwordFingerprint(created.passwordHash) } });
      await this.#events.record('user.signed_up', { accountId, ...origin, detail: { connector: connector.name } });
      return this.#signIn(accountId, connector, profile, origin, true);
    }
    // Someone registered the address meanwhile: the identity is theirs only after they prove it.
    await this.#collections.identities.deleteOne({ _id: identityId(connector, profile) });
    return this.resolve(connector, profile, origin);
  }

  async #newAccount(id: string, profile: UpstreamProfile): Promise<AccountRecord | 'email_taken'> {
    const base = usernameBase(profile);
    for (let attempt = 0; attempt < USERNAME_TRIES; attempt += 1) {
      const username = attempt === 0 ? base : `${base}-${randomBytes(3).toString('hex')}`;
      try {
        // No password anyone knows: "Forgot password?" can set one later.
        return await this.#accounts.create({
          id, username, password: randomBytes(32).toString('base64url'),
          name: profile.name, email: profile.email, emailVerified: profile.emailVerified,
        });
      } catch (err) {
        const field = duplicateField(err);
        if (field === 'email') return 'email_taken';
        if (field !== 'username') throw err;
      }
    }
    throw new Error('could not find a free username for a new account');
  }

  async #reserve(connector: ConnectorRecord, profile: UpstreamProfile, accountId: string): Promise<boolean> {
    try {
      await this.#collections.identities.insertOne({
        _id: identityId(connector, profile), connector_id: connector._id, sub: profile.sub, account_id: accountId,
        ...(profile.email ? { email: profile.email } : {}), linked_at: new Date(),
      });
      return true;
    } catch (err) {
      if ((err as { code?: unknown }).code === 11000) return false;
      throw err;
    }
  }

  async #signIn(accountId: string, connector: ConnectorRecord, profile: UpstreamProfile, origin: RequestOrigin, created: boolean): Promise<FederatedOutcome> {
    const account = await this.#accounts.model.findById(accountId).lean();
    if (!account) return refuse('retry');
    if (account.disabled) {
      await this.#events.record('upstream.refused', { accountId, ...origin, detail: { connector: connector.name, reason: 'disabled' } });
      return refuse('disabled');
    }
    await this.#collections.identities.updateOne(
      { connector_id: connector._id, sub: { $eq: profile.sub } },
      { $set: { last_sign_in_at: new Date(), ...(profile.email ? { email: profile.email } : {}) } },
    );
    await this.#events.record('upstream.signed_in', { accountId, ...origin, detail: { connector: connector.name, created } });
    return { kind: 'signed_in', account, created };
  }
}

function refuse(reason: keyof typeof REFUSALS): FederatedOutcome {
  return { kind: 'refused', reason, message: REFUSALS[reason] };
}

/** A username from the profile, in the characters usernames allow. */
function usernameBase(profile: UpstreamProfile): string {
  const source = profile.preferredUsername ?? profile.email?.split('@')[0] ?? profile.name ?? 'user';
  const cleaned = normalizeUsername(source).replace(/[^\w.@+-]+/g, '-').replace(/^-+|-+$/g, '');
  return cleaned.slice(0, defaults.connectors.usernameLength) || 'user';
}
