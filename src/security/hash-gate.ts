export interface HashGateLimits {
  /** Password hashes computed at once (each holds its memory cost while it runs). */
  concurrency: number;
  /** Hashes allowed to wait for a free slot; beyond that the gate refuses at once. */
  queue: number;
  /** Places (running or waiting) one client network may hold, so a single network cannot
   * fill the queue in front of everyone else. */
  perNetwork: number;
}

/** The gate is full: the caller should answer 503 with Retry-After instead of waiting. */
export class HashGateFull extends Error {
  override name = 'HashGateFull';
}

/**
 * Bounds the CPU and memory that unauthenticated requests can make us spend on password
 * hashing: at most `concurrency` hashes run, at most `queue` wait, and the rest are refused
 * immediately. A short queue keeps the wait of an admitted sign-in to a few hash times,
 * however many bogus logins are in flight.
 */
export class HashGate {
  readonly #limits: HashGateLimits;
  readonly #waiting: Array<() => void> = [];
  readonly #held = new Map<string, number>();
  #running = 0;
  #started = 0;
  #refused = 0;

  constructor(limits: HashGateLimits) {
    this.#limits = limits;
  }

  /** Hashes started since this gate was created (an observable for tests and metrics). */
  get started(): number {
    return this.#started;
  }

  get refused(): number {
    return this.#refused;
  }

  /** Runs `hash` for `network` when a slot is free; throws HashGateFull if the queue, or
   * that network's share, is already full. */
  async run<T>(network: string, hash: () => Promise<T>): Promise<T> {
    if (this.refuses(network)) throw new HashGateFull('password hashing is at capacity');
    this.#held.set(network, (this.#held.get(network) ?? 0) + 1);
    try {
      if (this.#running >= this.#limits.concurrency) await new Promise<void>((resolve) => this.#waiting.push(resolve));
      else this.#running += 1;
      this.#started += 1;
      try {
        return await hash();
      } finally {
        this.#release();
      }
    } finally {
      const left = this.#held.get(network)! - 1;
      if (left > 0) this.#held.set(network, left);
      else this.#held.delete(network);
    }
  }

  /**
   * True, and counted as refused, when `run` would refuse `network` right now. Asked before
   * the other work of a sign-in (throttle reservation, account lookup), so shedding load
   * costs almost nothing; `run` still decides, as the gate may fill in the meantime.
   */
  refuses(network: string): boolean {
    const queueFull = this.#running >= this.#limits.concurrency && this.#waiting.length >= this.#limits.queue;
    if (!queueFull && (this.#held.get(network) ?? 0) < this.#limits.perNetwork) return false;
    this.#refused += 1;
    return true;
  }

  /** Hands the slot straight to the next waiter, so `running` never exceeds the limit. */
  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#running -= 1;
  }
}
