import type { Collection } from 'mongoose';
import type { JWK } from 'jose';

import type { KeyMaterial, KeySources } from '../config/keys.js';
import { KEY_SET_ID, type KeySetDoc, type Ring, type StoredKey } from '../db/models/key-set.js';
import type { RequestOrigin, SecurityEvents } from '../security/events.js';
import { importedKeys } from './import.js';
import { KeyLifecycleError, KeyPlan, type KeyChange } from './lifecycle.js';
import { cookieSecret, keyMint, type KeyMint } from './minting.js';
import type { KeySealer } from './sealing.js';
import type { KeyTiming } from './timing.js';

export interface KeyRingDeps {
  collection: Collection<KeySetDoc>;
  sealer: KeySealer;
  timing: KeyTiming;
  events: SecurityEvents;
  /** Where a failed background pickup is reported (never with key material). */
  warn?: (message: string) => void;
}

/** Who asked for a transition; goes into its security event. */
export interface KeyAudit extends RequestOrigin {
  actor?: string;
}

/** How often a transition that lost a race to another instance is tried again on fresh state. */
const ATTEMPTS = 5;

/**
 * This instance's view of the key set in MongoDB. Every pickup interval it re-reads the
 * set's version (one small query), takes over any change another instance made, and does
 * the lifecycle's due transitions. Every change is one compare-and-set on that version,
 * so two instances doing the same transition at once produce it once.
 */
export class KeyRing {
  readonly #deps: KeyRingDeps;
  readonly #mint: KeyMint;
  readonly #listeners: Array<(material: KeyMaterial) => void> = [];
  #doc: KeySetDoc;
  #material: KeyMaterial;
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;

  private constructor(deps: KeyRingDeps, doc: KeySetDoc, material: KeyMaterial) {
    this.#deps = deps;
    this.#mint = keyMint(deps.sealer);
    this.#doc = doc;
    this.#material = material;
  }

  /** Loads the key set, creating it on a fresh database (importing configured keys), and brings it up to date. */
  static async open(deps: KeyRingDeps, sources: KeySources): Promise<KeyRing> {
    const doc = (await deps.collection.findOne({ _id: KEY_SET_ID })) ?? (await create(deps, sources));
    const ring = new KeyRing(deps, doc, await materialOf(doc, deps.sealer));
    await ring.#transition((plan) => plan.maintain());
    return ring;
  }

  get material(): KeyMaterial {
    return this.#material;
  }

  get keys(): readonly StoredKey[] {
    return this.#doc.keys;
  }

  get timing(): KeyTiming {
    return this.#deps.timing;
  }

  /** Called with the new material whenever the key set changes (here or on another instance). */
  onChange(listener: (material: KeyMaterial) => void): void {
    this.#listeners.push(listener);
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.#tick(), this.#deps.timing.pickupMs).unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** An operator's rotation of the given rings; refused if another rotation got there first. */
  async rotate(rings: readonly Ring[], audit: KeyAudit): Promise<KeyChange[]> {
    await this.#reload();
    const expected = new Map(rings.map((ring) => [ring, this.#doc.keys.find((k) => k.ring === ring && k.state === 'current')?.kid]));
    return this.#retry(async (plan) => {
      for (const ring of rings) await plan.rotate(ring, expected.get(ring));
    }, audit);
  }

  /** Emergency: the key stops verifying and signing on this instance now, on every other within one pickup. */
  async revoke(kid: string, audit: KeyAudit): Promise<KeyChange[]> {
    await this.#reload();
    return this.#retry(async (plan) => {
      await plan.revoke(kid);
    }, audit);
  }

  async #retry(apply: (plan: KeyPlan) => Promise<void>, audit: KeyAudit): Promise<KeyChange[]> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const changes = await this.#transition(apply, audit);
      if (changes) return changes;
    }
    throw new KeyLifecycleError('conflict', 'the key set keeps changing concurrently; try again');
  }

  async #tick(): Promise<void> {
    if (this.#ticking) return;
    this.#ticking = true;
    try {
      const head = await this.#deps.collection.findOne({ _id: KEY_SET_ID }, { projection: { version: 1 } });
      if (head && head.version !== this.#doc.version) await this.#reload();
      await this.#transition((plan) => plan.maintain());
    } catch (err) {
      // Keep serving with the keys we have; the next pickup tries again.
      (this.#deps.warn ?? console.warn)(`[keys] pickup failed: ${(err as Error).message}`);
    } finally {
      this.#ticking = false;
    }
  }

  /** Applies a plan with one compare-and-set; null when another instance changed the set first. */
  async #transition(apply: (plan: KeyPlan) => Promise<void>, audit: KeyAudit = {}): Promise<KeyChange[] | null> {
    const now = new Date();
    // The version the plan starts from: a pickup may install a newer one while keys are generated.
    const base = this.#doc;
    const plan = new KeyPlan(base.keys, now, this.#deps.timing, this.#mint);
    await apply(plan);
    if (plan.changes.length === 0) return [];
    const updated = await this.#deps.collection.findOneAndUpdate(
      { _id: KEY_SET_ID, version: base.version },
      { $set: { keys: plan.keys, version: base.version + 1, updatedAt: now } },
      { returnDocument: 'after' },
    );
    if (!updated) {
      await this.#reload();
      return null;
    }
    await this.#install(updated);
    await recordEvents(this.#deps.events, plan.changes, audit);
    return plan.changes;
  }

  async #reload(): Promise<void> {
    const doc = await this.#deps.collection.findOne({ _id: KEY_SET_ID });
    if (doc) await this.#install(doc);
  }

  /** Takes over a newer version; concurrent reloads may finish out of order, so never an older one. */
  async #install(doc: KeySetDoc): Promise<void> {
    if (doc.version <= this.#doc.version) return;
    const material = await materialOf(doc, this.#deps.sealer);
    if (doc.version <= this.#doc.version) return;
    this.#doc = doc;
    this.#material = material;
    for (const listener of this.#listeners) listener(material);
  }
}

/** The first key set: configured keys imported, missing keys generated. Another instance may win the insert. */
async function create(deps: KeyRingDeps, sources: KeySources): Promise<KeySetDoc> {
  const now = new Date();
  const plan = new KeyPlan(await importedKeys(sources, deps.sealer, deps.timing, now), now, deps.timing, keyMint(deps.sealer));
  await plan.maintain();
  const doc: KeySetDoc = { _id: KEY_SET_ID, version: 1, keys: plan.keys, updatedAt: now };
  try {
    await deps.collection.insertOne(doc);
    return doc;
  } catch (err) {
    if ((err as { code?: number }).code !== 11000) throw err;
    return (await deps.collection.findOne({ _id: KEY_SET_ID }))!;
  }
}

/** Decrypted keys in the order oidc-provider and Keygrip sign with: current first, then next, then previous. */
async function materialOf(doc: KeySetDoc, sealer: KeySealer): Promise<KeyMaterial> {
  const live = (['current', 'next', 'previous'] as const).flatMap((state) => doc.keys.filter((key) => key.state === state));
  const jwks: JWK[] = [];
  const cookieKeys: string[] = [];
  for (const key of live) {
    const jwk = await sealer.unseal(key.kid, key.sealed!);
    if (key.ring === 'cookie') cookieKeys.push(cookieSecret(jwk));
    else jwks.push(jwk);
  }
  return { jwks: { keys: jwks }, cookieKeys };
}

async function recordEvents(events: SecurityEvents, changes: readonly KeyChange[], audit: KeyAudit): Promise<void> {
  const { actor, ...origin } = audit;
  for (const change of changes) {
    if (change.type !== 'rotated' && change.type !== 'revoked') continue;
    const { type, ...detail } = change;
    await events.record(type === 'rotated' ? 'key.rotated' : 'key.revoked', { ...origin, detail: { ...detail, actor } });
  }
}
