import type { Collection, Connection } from 'mongoose';

import { defaults } from '../../config/defaults.js';

interface AttemptDoc {
  _id: string;
  failures: number;
  expiresAt: Date;
}

export interface ThrottlePolicy {
  maxFailures: number;
  windowSeconds: number;
}

/**
 * Brute-force protection for the login form, shared by every instance through MongoDB:
 * after `maxFailures` failed sign-ins for one username within a window that starts at the
 * first failure, that username is refused until the window ends. Counted for any username,
 * existing or not, so the lockout reveals nothing about which accounts exist.
 */
export class LoginThrottle {
  readonly #attempts: Collection<AttemptDoc>;
  readonly #policy: ThrottlePolicy;

  constructor(connection: Connection, policy: ThrottlePolicy = defaults.loginThrottle) {
    this.#attempts = connection.collection<AttemptDoc>('login_attempts');
    this.#policy = policy;
  }

  async ensureIndexes(): Promise<void> {
    await this.#attempts.createIndexes([{ key: { expiresAt: 1 }, name: 'expiresAt_ttl', expireAfterSeconds: 0 }]);
  }

  async isLocked(username: string): Promise<boolean> {
    const doc = await this.#attempts.findOne({ _id: key(username) });
    return !!doc && doc.expiresAt.getTime() > Date.now() && doc.failures >= this.#policy.maxFailures;
  }

  /** Counts the failure in the live window, or starts a new window from this failure (also
   * when the last one ended but TTL has not deleted it yet). Two first failures racing may
   * count as one: an undercount of one, never a lockout of the wrong user. `lockedOut` is
   * true for exactly the failure that reached the limit, so it is reported once. */
  async recordFailure(username: string): Promise<{ lockedOut: boolean }> {
    const now = new Date();
    const counted = await this.#attempts.findOneAndUpdate(
      { _id: key(username), expiresAt: { $gt: now } },
      { $inc: { failures: 1 } },
      { returnDocument: 'after' },
    );
    if (counted) return { lockedOut: counted.failures === this.#policy.maxFailures };
    const expiresAt = new Date(now.getTime() + this.#policy.windowSeconds * 1000);
    await this.#attempts.replaceOne({ _id: key(username) }, { failures: 1, expiresAt }, { upsert: true });
    return { lockedOut: this.#policy.maxFailures === 1 };
  }

  async reset(username: string): Promise<void> {
    await this.#attempts.deleteOne({ _id: key(username) });
  }
}

function key(username: string): string {
  return username.toLowerCase();
}
