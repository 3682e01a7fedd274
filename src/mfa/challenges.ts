import { randomBytes } from 'node:crypto';
import type { Collection, Connection } from 'mongoose';

import { defaults } from '../../config/defaults.js';

interface ChallengeDoc {
  _id: string;
  challenge: string;
  expiresAt: Date;
}

/**
 * WebAuthn challenges, one per ceremony (`purpose` and whose it is: an interaction, an
 * account), answered once: taking one deletes it, so a recorded assertion cannot be
 * replayed, whatever the authenticator's signature counter says.
 */
export class Challenges {
  readonly #collection: Collection<ChallengeDoc>;

  constructor(connection: Connection) {
    this.#collection = connection.collection<ChallengeDoc>('webauthn_challenges');
  }

  async ensureIndexes(): Promise<void> {
    await this.#collection.createIndexes([{ key: { expiresAt: 1 }, name: 'expiresAt_ttl', expireAfterSeconds: 0 }]);
  }

  /** A new challenge for the ceremony; it replaces any earlier one of the same ceremony. */
  async issue(purpose: string, key: string): Promise<string> {
    const challenge = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + defaults.mfa.passkeyChallengeSeconds * 1000);
    await this.#collection.replaceOne({ _id: `${purpose}:${key}` }, { challenge, expiresAt }, { upsert: true });
    return challenge;
  }

  /** The ceremony's challenge, taken (once: of two requests racing, one gets it). */
  async take(purpose: string, key: string): Promise<string | undefined> {
    const id = `${purpose}:${key}`;
    const doc = await this.#collection.findOne({ _id: id, expiresAt: { $gt: new Date() } });
    if (!doc) return undefined;
    const taken = await this.#collection.deleteOne({ _id: id, challenge: doc.challenge });
    return taken.deletedCount === 1 ? doc.challenge : undefined;
  }
}
