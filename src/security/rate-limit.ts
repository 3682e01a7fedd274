import type { Collection, Connection } from 'mongoose';

interface CounterDoc {
  _id: string;
  count: number;
  expiresAt: Date;
}

export interface RateLimitPolicy {
  max: number;
  windowSeconds: number;
}

/**
 * Fixed-window request counters in MongoDB, shared by every instance: sign-ups and reset
 * requests per client network (src/security/client-network.ts), resets per recipient,
 * verification resends and email changes per account and per network. Counting
 * reserves first (one atomic update per attempt), so concurrent requests can never all
 * slip under the limit together.
 */
export class RateLimits {
  readonly #counters: Collection<CounterDoc>;

  constructor(connection: Connection) {
    this.#counters = connection.collection<CounterDoc>('rate_limits');
  }

  async ensureIndexes(): Promise<void> {
    await this.#counters.createIndexes([{ key: { expiresAt: 1 }, name: 'expiresAt_ttl', expireAfterSeconds: 0 }]);
  }

  /** Counts one attempt for `key` and says whether it is within `policy`. */
  async allow(key: string, policy: RateLimitPolicy): Promise<boolean> {
    return (await this.#count(key, policy)) <= policy.max;
  }

  async #count(key: string, policy: RateLimitPolicy): Promise<number> {
    // Three steps, each atomic on its own: count in the live window; else restart an ended
    // window (TTL deletion lags); else open the first one. Losing a race at the last step
    // means another request just opened it, so counting again finds it.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const now = new Date();
      const live = await this.#counters.findOneAndUpdate(
        { _id: key, expiresAt: { $gt: now } }, { $inc: { count: 1 } }, { returnDocument: 'after' },
      );
      if (live) return live.count;
      const expiresAt = new Date(now.getTime() + policy.windowSeconds * 1000);
      const restarted = await this.#counters.updateOne({ _id: key, expiresAt: { $lte: now } }, { $set: { count: 1, expiresAt } });
      if (restarted.modifiedCount > 0) return 1;
      try {
        await this.#counters.insertOne({ _id: key, count: 1, expiresAt });
        return 1;
      } catch (err) {
        if ((err as { code?: unknown }).code !== 11000) throw err;
      }
    }
    // Three lost races in a row: only possible under a flood, which is what a limit is for.
    return Number.POSITIVE_INFINITY;
  }
}
