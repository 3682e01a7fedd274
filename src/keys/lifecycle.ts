import { RINGS, type KeyState, type Ring, type StoredKey } from '../db/models/key-set.js';
import type { KeyMint } from './minting.js';
import { readyAt, type KeyTiming } from './timing.js';

export type RotationReason = 'schedule' | 'admin' | 'revocation';

/** What a transition did; rotations and revocations become security events. */
export type KeyChange =
  | { type: 'created'; ring: Ring; kid: string; state: 'current' | 'next' }
  | { type: 'rotated'; ring: Ring; kid: string; replaced?: string; reason: RotationReason }
  | { type: 'retired'; ring: Ring; kid: string }
  | { type: 'revoked'; ring: Ring; kid: string; was: KeyState };

/** A transition refused for a reason the operator can act on. */
export class KeyLifecycleError extends Error {
  override name = 'KeyLifecycleError';

  constructor(readonly code: 'not_found' | 'not_ready' | 'conflict' | 'key_ended', message: string) {
    super(message);
  }
}

/**
 * One transition of the key set, worked out on a copy of the stored keys: the staged
 * lifecycle next → current → previous → retired per ring, plus emergency revocation.
 * The caller stores `keys` with one compare-and-set, so concurrent plans cannot both land.
 */
export class KeyPlan {
  readonly keys: StoredKey[];
  readonly changes: KeyChange[] = [];
  readonly #now: Date;
  readonly #timing: KeyTiming;
  readonly #mint: KeyMint;

  constructor(keys: readonly StoredKey[], now: Date, timing: KeyTiming, mint: KeyMint) {
    this.keys = structuredClone([...keys]);
    this.#now = now;
    this.#timing = timing;
    this.#mint = mint;
  }

  find(ring: Ring, state: KeyState): StoredKey | undefined {
    return this.keys.find((key) => key.ring === ring && key.state === state);
  }

  /** The routine work of every pickup: keys exist, scheduled rotations happen, old keys retire. */
  async maintain(): Promise<void> {
    for (const ring of RINGS) {
      await this.#ensure(ring);
      const current = this.find(ring, 'current')!;
      const due = (current.activatedAt ?? current.createdAt).getTime() + this.#timing.rotationMs <= this.#now.getTime();
      if (due && this.#isReady(this.find(ring, 'next')!)) await this.#promote(ring, 'schedule');
    }
    for (const key of this.keys) {
      if (key.state === 'previous' && key.retireAt && key.retireAt <= this.#now) this.#end(key, 'retired');
    }
  }

  /** An operator's rotation: only if nobody rotated since `expectedKid` was read and the next key is ready. */
  async rotate(ring: Ring, expectedKid: string | undefined): Promise<void> {
    await this.#ensure(ring);
    if (this.find(ring, 'current')!.kid !== expectedKid) {
      throw new KeyLifecycleError('conflict', `the ${ring} key was rotated concurrently`);
    }
    const next = this.find(ring, 'next')!;
    if (!this.#isReady(next)) {
      throw new KeyLifecycleError('not_ready', `the next ${ring} key ${next.kid} may sign from ${readyAt(next, this.#timing).toISOString()} `
        + '(relying parties must see it in the JWKS first); to replace a compromised key at once, revoke it');
    }
    await this.#promote(ring, 'admin');
  }

  /** Emergency: the key leaves the key set now; a revoked current key is replaced at once. */
  async revoke(kid: string): Promise<StoredKey> {
    const key = this.keys.find((candidate) => candidate.kid === kid);
    if (!key) throw new KeyLifecycleError('not_found', `key ${kid} not found`);
    if (key.state === 'retired' || key.state === 'revoked') {
      throw new KeyLifecycleError('key_ended', `key ${kid} is already ${key.state}`);
    }
    const was = key.state;
    if (was === 'current') await this.#promote(key.ring, 'revocation');
    this.#end(key, 'revoked');
    this.changes.push({ type: 'revoked', ring: key.ring, kid, was });
    await this.#ensure(key.ring);
    return key;
  }

  /** Every ring has a key that signs (only missing on a fresh database) and a published successor. */
  async #ensure(ring: Ring): Promise<void> {
    if (!this.find(ring, 'current')) await this.#create(ring, 'current');
    if (!this.find(ring, 'next')) await this.#create(ring, 'next');
  }

  async #create(ring: Ring, state: 'current' | 'next'): Promise<StoredKey> {
    const now = this.#now;
    const key = await this.#mint(ring, { state, createdAt: now, ...(state === 'current' ? { activatedAt: now } : {}) });
    this.keys.push(key);
    this.changes.push({ type: 'created', ring, kid: key.kid, state });
    return key;
  }

  /** next → current, current → previous (kept for the retention time), and a fresh next. */
  async #promote(ring: Ring, reason: RotationReason): Promise<void> {
    const now = this.#now;
    const next = this.find(ring, 'next') ?? (await this.#create(ring, 'next'));
    const current = this.find(ring, 'current');
    if (current) {
      Object.assign(current, {
        state: 'previous', deactivatedAt: now, retireAt: new Date(now.getTime() + this.#timing.retentionMs(ring)),
      });
    }
    Object.assign(next, { state: 'current', activatedAt: now });
    this.changes.push({ type: 'rotated', ring, kid: next.kid, replaced: current?.kid, reason });
    await this.#ensure(ring);
  }

  #isReady(next: StoredKey): boolean {
    return readyAt(next, this.#timing) <= this.#now;
  }

  #end(key: StoredKey, state: 'retired' | 'revoked'): void {
    key.state = state;
    key.endedAt = this.#now;
    delete key.retireAt;
    delete key.sealed;
    if (state === 'retired') this.changes.push({ type: 'retired', ring: key.ring, kid: key.kid });
  }
}
