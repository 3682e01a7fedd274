import type { Collection, Connection } from 'mongoose';
import type { KoaContextWithOIDC } from 'oidc-provider';
import UAParser from 'ua-parser-js';

import { defaults } from '../../config/defaults.js';
import type { SecurityEvents } from '../security/events.js';

/** What oidc-provider's sessions do not keep: where each browser session signed in from. */
export interface DeviceDoc {
  /** The session's uid (never its id, which is the cookie value). */
  _id: string;
  accountId: string;
  ip?: string;
  userAgent?: string;
  signedInAt: Date;
  lastActiveAt: Date;
  /** When the user last confirmed their password in the account center from this session. */
  confirmedAt?: Date;
  expiresAt: Date;
}

/** Browser sessions' devices, keyed by session uid, in the `account_devices` collection. */
export class Devices {
  readonly #docs: Collection<DeviceDoc>;
  readonly #sessionTtl: number;

  constructor(connection: Connection, sessionTtlSeconds: number) {
    this.#docs = connection.collection<DeviceDoc>('account_devices');
    this.#sessionTtl = sessionTtlSeconds;
  }

  async ensureIndexes(): Promise<void> {
    await this.#docs.createIndexes([
      { key: { expiresAt: 1 }, name: 'expiresAt_ttl', expireAfterSeconds: 0 },
      { key: { accountId: 1 }, name: 'accountId_1' },
    ]);
  }

  /**
   * Called on every successful authorization (oidc-provider's `authorization.success`): the
   * first one of a session is its sign-in (recorded with IP and browser, and as a
   * `session.signed_in` event); later ones only move "last active", at most once a minute.
   */
  async seen(ctx: KoaContextWithOIDC, events: SecurityEvents): Promise<void> {
    const session = ctx.oidc.session;
    if (!session?.accountId || !session.uid) return;
    const now = new Date();
    const signedInAt = new Date((session.loginTs ?? Math.floor(now.getTime() / 1000)) * 1000);
    const origin = { ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined };
    const existing = await this.#docs.findOne({ _id: session.uid }, { projection: { signedInAt: 1 } });
    // A new sign-in on the same browser session (after a cut-off, or as another user) starts over.
    if (existing && existing.signedInAt.getTime() === signedInAt.getTime()) {
      await this.touch(session.uid);
      return;
    }
    await this.#docs.replaceOne({ _id: session.uid }, {
      accountId: session.accountId, ...origin, signedInAt, lastActiveAt: now, expiresAt: this.#expiry(now),
    }, { upsert: true });
    await events.record('session.signed_in', { accountId: session.accountId, clientId: ctx.oidc.client?.clientId, ...origin });
  }

  /** "Last active", written at most once per `lastActiveEverySeconds`: one conditional update. */
  async touch(sessionUid: string): Promise<void> {
    const now = new Date();
    const stale = new Date(now.getTime() - defaults.account.lastActiveEverySeconds * 1000);
    await this.#docs.updateOne({ _id: sessionUid, lastActiveAt: { $lt: stale } }, { $set: { lastActiveAt: now, expiresAt: this.#expiry(now) } });
  }

  /** `at`: when the password was proven, as the check dated it (never later). */
  async confirm(sessionUid: string, accountId: string, at: Date): Promise<void> {
    await this.#docs.updateOne({ _id: sessionUid, accountId }, { $set: { confirmedAt: at } });
  }

  async find(sessionUid: string, accountId: string): Promise<DeviceDoc | undefined> {
    return (await this.#docs.findOne({ _id: sessionUid, accountId })) ?? undefined;
  }

  async byAccount(accountId: string): Promise<Map<string, DeviceDoc>> {
    const docs = await this.#docs.find({ accountId }).toArray();
    return new Map(docs.map((doc) => [doc._id, doc]));
  }

  #expiry(from: Date): Date {
    return new Date(from.getTime() + this.#sessionTtl * 1000);
  }
}

/** "Firefox 128 on Ubuntu", "Chrome on Android (Pixel 7)", or "Unknown browser". */
export function describeDevice(userAgent: string | undefined): string {
  if (!userAgent) return 'Unknown browser';
  const { browser, os, device } = new UAParser(userAgent).getResult();
  const name = browser.name ? `${browser.name}${browser.version ? ` ${browser.version.split('.')[0]}` : ''}` : 'Unknown browser';
  const system = os.name ? ` on ${os.name}${os.version ? ` ${os.version}` : ''}` : '';
  const model = device.model ? ` (${[device.vendor, device.model].filter(Boolean).join(' ')})` : '';
  return `${name}${system}${model}`;
}
