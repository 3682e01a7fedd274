import type { SecurityEventModel, SecurityEventRecord, SecurityEventType } from '../db/models/security-event.js';

/** Where a request came from, as far as we can tell without trusting the body. */
export interface RequestOrigin {
  ip?: string;
  userAgent?: string;
}

export type SecurityEventInput = Omit<SecurityEventRecord, 'at' | 'type'>;

/** Security events: stored in the `events` collection and written as one JSON log line. */
export class SecurityEvents {
  readonly #model: SecurityEventModel;
  readonly #log: (line: string) => void;

  constructor(model: SecurityEventModel, log: (line: string) => void = (line) => console.log(line)) {
    this.#model = model;
    this.#log = log;
  }

  get model(): SecurityEventModel {
    return this.#model;
  }

  async record(type: SecurityEventType, input: SecurityEventInput): Promise<void> {
    const event: SecurityEventRecord = { at: new Date(), type, ...input };
    this.#log(JSON.stringify({ level: 'warn', msg: 'security_event', ...event }));
    await this.#model.create(event);
  }
}
