import { createHmac, hkdfSync } from 'node:crypto';

import type { SecurityEventModel, SecurityEventRecord, SecurityEventType } from '../db/models/security-event.js';
import { silentLogger, type Logger } from '../observability/logger.js';

/** Where a request came from, as far as we can tell without trusting the body. */
export interface RequestOrigin {
  ip?: string;
  userAgent?: string;
}

export type SecurityEventInput = Omit<SecurityEventRecord, 'at' | 'type'>;

export interface SecurityEventSinks {
  /** One line per event (`msg: "security_event"`), at warn. */
  logger?: Logger;
  /** Counts the events that are also metrics. */
  count?: (type: SecurityEventType, detail?: Record<string, unknown>) => void;
  /** The server's key-encryption key; the key of pseudonyms() is derived from it. */
  secret?: Uint8Array;
}

/** Security events: stored in the `events` collection, logged, and counted. */
export class SecurityEvents {
  readonly #model: SecurityEventModel;
  readonly #logger: Logger;
  readonly #count: NonNullable<SecurityEventSinks['count']>;
  readonly #pseudonymKey: Buffer;

  constructor(model: SecurityEventModel, sinks: SecurityEventSinks = {}) {
    this.#model = model;
    this.#logger = sinks.logger ?? silentLogger;
    this.#count = sinks.count ?? (() => {});
    const secret = sinks.secret ?? new Uint8Array(32);
    this.#pseudonymKey = Buffer.from(hkdfSync('sha256', secret, new Uint8Array(0), 'security event pseudonyms', 32));
  }

  /**
   * What an event may keep of something typed that matched no account (it may be a
   * password typed into the wrong field): a keyed hash, so the same text gives the same
   * value (repeated attempts can be grouped) but a copy of the events reveals nothing.
   */
  pseudonym(typed: string): string {
    return createHmac('sha256', this.#pseudonymKey).update(typed).digest('base64url').slice(0, 22);
  }

  get model(): SecurityEventModel {
    return this.#model;
  }

  /** Logs what failed to be stored: emitter listeners cannot throw into the request. */
  get logger(): Logger {
    return this.#logger;
  }

  async record(type: SecurityEventType, input: SecurityEventInput): Promise<void> {
    const event: SecurityEventRecord = { at: new Date(), type, ...input };
    this.#logger.warn({ type, ...input }, 'security_event');
    // Rare and what an operator watches for: written at once, not with the next buffer.
    this.#logger.flush();
    this.#count(type, input.detail);
    await this.#model.create(event);
  }
}
