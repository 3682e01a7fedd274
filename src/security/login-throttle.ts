import { randomUUID } from 'node:crypto';
import type { Collection, Connection } from 'mongoose';

import type { ThrottleSettings } from '../config/settings.js';
import { normalizeUsername } from '../db/models/account.js';

/**
 * One counter: a username from one network (`user:`), or one network for any username
 * (`ip:`). A round allows `limit` password checks; when all of them have failed, the
 * counter is locked, and the n-th lockout lasts n wait increments (capped). A round only
 * starts again after its lockout, so at most `limit` passwords are checked per lockout.
 */
interface CounterDoc {
  _id: string;
  /** Identifies the current round, so a late settlement never counts in a newer one. */
  round: string;
  /** Checks reserved in this round: settled failures plus checks still running. */
  attempts: number;
  failures: number;
  /** Lockouts since the record was last reset; the next wait grows with it. */
  lockouts: number;
  lockedUntil?: Date | null;
  /** Everything is forgotten after this (Keycloak's failure reset time); TTL deletes it. */
  expiresAt: Date;
  /** The normalised username of a `user:` counter, so a password reset can lift its lockouts. */
  username?: string;
}

/** A counter reached its limit; reported once per lockout. */
export interface Lockout {
  scope: 'user' | 'ip';
  /** How many lockouts in a row, and how long this one lasts. */
  lockout: number;
  seconds: number;
}

export type Reservation =
  | { allowed: true; attempt: SignInAttempt }
  | { allowed: false; retryAfterSeconds: number };

/** A reserved slot in one counter. */
export interface Hold {
  id: string;
  scope: Lockout['scope'];
  round: string;
  limit: number;
}

/**
 * Brute-force protection for the login form, shared by every instance through MongoDB.
 * A password is checked only after a slot was reserved atomically (a conditional `$inc`),
 * so any number of parallel guesses evaluates at most the limit. Counting per username
 * *and network* means an attacker elsewhere cannot lock a user out of their own device;
 * the per-network counter stops one network from spraying many usernames. Unknown
 * usernames are counted like real ones, so a lockout reveals nothing.
 */
export class LoginThrottle {
  readonly #counters: Collection<CounterDoc>;
  readonly #policy: ThrottleSettings;

  constructor(connection: Connection, policy: ThrottleSettings) {
    this.#counters = connection.collection<CounterDoc>('login_attempts');
    this.#policy = policy;
  }

  async ensureIndexes(): Promise<void> {
    await this.#counters.createIndexes([
      { key: { expiresAt: 1 }, name: 'expiresAt_ttl', expireAfterSeconds: 0 },
      { key: { username: 1 }, name: 'username_1', sparse: true },
    ]);
  }

  /** Reserves one password check for `username` from `network` (see clientNetwork), or says how long to wait. */
  async reserve(username: string, network: string): Promise<Reservation> {
    const perIp = await this.#reserve(`ip:${network}`, 'ip', this.#policy.maxFailuresPerIp);
    if ('retryAfterSeconds' in perIp) return { allowed: false, ...perIp };
    const name = normalizeUsername(username);
    const perUser = await this.#reserve(`user:${network}:${name}`, 'user', this.#policy.maxFailuresPerUser, name);
    if ('retryAfterSeconds' in perUser) {
      await this.#release(perIp);
      return { allowed: false, ...perUser };
    }
    return { allowed: true, attempt: new SignInAttempt(this, perUser, perIp) };
  }

  /**
   * Lifts every lockout of one username, from every network (after a password reset: the
   * owner proved themselves by mail, and the new password must work at once). A check
   * still settling against a deleted counter changes nothing.
   */
  async forgetUser(username: string): Promise<void> {
    await this.#counters.deleteMany({ username: normalizeUsername(username) });
  }

  /** A success forgets the user's failures (as Keycloak does) and gives the network its slot back. */
  async succeeded(user: Hold, ip: Hold): Promise<void> {
    await this.#counters.deleteOne({ _id: user.id });
    await this.#release(ip);
  }

  /** A failure stays counted; the one that completes a round locks its counter. */
  async failed(holds: Hold[]): Promise<Lockout[]> {
    const lockouts = await Promise.all(holds.map((hold) => this.#fail(hold)));
    return lockouts.filter((l): l is Lockout => !!l);
  }

  /** The password was never checked (hashing at capacity): the slots go back. */
  async abandoned(holds: Hold[]): Promise<void> {
    await Promise.all(holds.map((hold) => this.#release(hold)));
  }

  /**
   * The common case costs one command: a network's counter usually exists with room left,
   * a user's usually does not exist (a success deletes it). Every other state, and a lost
   * race, takes the general path.
   */
  async #reserve(id: string, scope: Hold['scope'], limit: number, username?: string): Promise<Hold | { retryAfterSeconds: number }> {
    const round = scope === 'ip' ? await this.#takeFromOpenRound(id, limit) : await this.#startFirstRound(id, username);
    return round ? { id, scope, round, limit } : this.#reserveByState(id, scope, limit, username);
  }

  /** One slot of a round that is open (not forgotten, not locked, not full), atomically. */
  async #takeFromOpenRound(id: string, limit: number): Promise<string | undefined> {
    const now = new Date();
    const taken = await this.#counters.findOneAndUpdate(
      { _id: id, attempts: { $lt: limit }, lockedUntil: null, expiresAt: { $gt: now } },
      { $inc: { attempts: 1 }, $set: { expiresAt: this.#resetAt(now) } },
      { returnDocument: 'after', projection: { round: 1 } },
    );
    return taken?.round;
  }

  /** The counter's first slot, if it does not exist yet. */
  async #startFirstRound(id: string, username?: string): Promise<string | undefined> {
    const round = randomUUID();
    try {
      await this.#counters.insertOne({
        _id: id, round, attempts: 1, failures: 0, expiresAt: this.#resetAt(new Date()), lockouts: 0, ...(username ? { username } : {}),
      });
      return round;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 11000) throw err;
      return undefined;
    }
  }

  /**
   * Every write is a conditional update on the round just read (compare-and-set), so of
   * any number of racing requests at most `limit` get a slot per round, on every instance.
   */
  async #reserveByState(id: string, scope: Hold['scope'], limit: number, username?: string): Promise<Hold | { retryAfterSeconds: number }> {
    for (let tries = 0; tries < 5; tries += 1) {
      const now = new Date();
      const current = await this.#counters.findOne({ _id: id });
      if (!current) {
        const first = await this.#startFirstRound(id, username);
        if (first) return { id, scope, round: first, limit };
        continue; // a concurrent first attempt created it
      }
      const round = randomUUID();
      const fresh = { round, attempts: 1, failures: 0, expiresAt: this.#resetAt(now) };
      // Past the reset time, or past a lockout: the next round starts, once.
      const forgotten = current.expiresAt <= now;
      if (forgotten || (current.lockedUntil && current.lockedUntil <= now)) {
        const started = await this.#counters.updateOne(
          { _id: id, round: current.round },
          { $set: { ...fresh, ...(forgotten ? { lockouts: 0 } : {}) }, $unset: { lockedUntil: '' } },
        );
        if (started.modifiedCount === 1) return { id, scope, round, limit };
        continue;
      }
      if (current.lockedUntil || current.attempts >= limit) return { retryAfterSeconds: this.#retryAfter(current, now) };
      const reserved = await this.#counters.updateOne(
        { _id: id, round: current.round, attempts: { $lt: limit }, lockedUntil: null },
        { $inc: { attempts: 1 }, $set: { expiresAt: this.#resetAt(now) } },
      );
      if (reserved.modifiedCount === 1) return { id, scope, round: current.round, limit };
    }
    // Lost every race to other requests for the same counter: as good as full.
    return { retryAfterSeconds: 1 };
  }

  /** Counts the failure; the one that completes the round locks the counter, exactly once. */
  async #fail(hold: Hold): Promise<Lockout | undefined> {
    const now = new Date();
    await this.#counters.updateOne(
      { _id: hold.id, round: hold.round },
      { $inc: { failures: 1 }, $set: { expiresAt: this.#resetAt(now) } },
    );
    const counted = await this.#counters.findOne({ _id: hold.id, round: hold.round });
    if (!counted || counted.failures < hold.limit || counted.lockedUntil) return undefined;
    const lockout = counted.lockouts + 1;
    const seconds = this.#wait(lockout);
    const lockedUntil = new Date(now.getTime() + seconds * 1000);
    const locked = await this.#counters.updateOne(
      { _id: hold.id, round: hold.round, failures: { $gte: hold.limit }, lockedUntil: null },
      { $set: { lockedUntil, expiresAt: this.#resetAt(lockedUntil) }, $inc: { lockouts: 1 } },
    );
    return locked.modifiedCount === 1 ? { scope: hold.scope, lockout, seconds } : undefined;
  }

  async #release(hold: Hold): Promise<void> {
    await this.#counters.updateOne({ _id: hold.id, round: hold.round, attempts: { $gt: 0 } }, { $inc: { attempts: -1 } });
  }

  /** Locked: until the lockout ends. Full but still checking: about as long as the lockout those checks would start. */
  #retryAfter(doc: CounterDoc, now: Date): number {
    const until = doc.lockedUntil?.getTime() ?? now.getTime() + this.#wait(doc.lockouts + 1) * 1000;
    return Math.max(1, Math.ceil((until - now.getTime()) / 1000));
  }

  #wait(lockout: number): number {
    return Math.min(this.#policy.waitIncrementSeconds * lockout, this.#policy.maxWaitSeconds);
  }

  #resetAt(from: Date): Date {
    return new Date(from.getTime() + this.#policy.failureResetSeconds * 1000);
  }
}

/** One reserved password check; settle it exactly once with the outcome. */
export class SignInAttempt {
  readonly #throttle: LoginThrottle;
  readonly #user: Hold;
  readonly #ip: Hold;

  constructor(throttle: LoginThrottle, user: Hold, ip: Hold) {
    this.#throttle = throttle;
    this.#user = user;
    this.#ip = ip;
  }

  succeeded(): Promise<void> {
    return this.#throttle.succeeded(this.#user, this.#ip);
  }

  failed(): Promise<Lockout[]> {
    return this.#throttle.failed([this.#user, this.#ip]);
  }

  abandoned(): Promise<void> {
    return this.#throttle.abandoned([this.#user, this.#ip]);
  }
}
