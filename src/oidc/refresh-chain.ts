import type { Collection } from 'mongoose';

import { defaults } from '../../config/defaults.js';
import type { ArtifactDoc } from './store.js';

/**
 * A refresh-token chain kept so that one rotation is one atomic write.
 *
 * Every token (and every authorization code) has one *successor slot*: the unique index on
 * `parentId` lets at most one stored token name it as its parent. Rotating a token is
 * inserting its successor into that slot; there is no separate "consumed" write, so a
 * rotation that failed before that insert wrote nothing, and two rotations of one token
 * cannot both land. A token is used when its slot is held.
 *
 * A successor is stored with `undelivered` (the time by which its answer must have left,
 * src/oidc/delivery.ts) and loses it once the response carrying it has been sent. An
 * undelivered successor whose time has passed never reached anyone: a retry of its parent
 * *supersedes* it (takes it out of the slot, marked superseded) and inserts its own.
 *
 * A *fence* is a placeholder in a slot: the token behind it can never be rotated again.
 * Superseding fences the superseded token first (so it cannot be rotated while it is being
 * replaced) and revocation fences every token of the grant (so a rotation still in flight
 * cannot save a successor after the grant is gone).
 */

const DUPLICATE_KEY = 11000;

/** A token and whatever holds its successor slot, read in one query. */
export interface ChainState {
  doc: ArtifactDoc;
  successor?: ArtifactDoc;
}

export function fenceId(slot: string): string {
  return `fence.${slot}`;
}

export class RefreshChain {
  readonly #collection: () => Collection<ArtifactDoc>;

  constructor(collection: () => Collection<ArtifactDoc>) {
    this.#collection = collection;
  }

  async read(id: string): Promise<ChainState | undefined> {
    const docs = await this.#collection().find({ $or: [{ _id: id }, { parentId: id }] }).toArray();
    const doc = docs.find((d) => d._id === id && !d.fence);
    if (!doc) return undefined;
    return { doc, successor: docs.find((d) => d.parentId === id) };
  }

  /** What holds `slot` (a token's or a code's id) now. */
  async successorOf(slot: string): Promise<ArtifactDoc | undefined> {
    return (await this.#collection().findOne({ parentId: slot })) ?? undefined;
  }

  async get(id: string): Promise<ArtifactDoc | undefined> {
    return (await this.#collection().findOne({ _id: id })) ?? undefined;
  }

  /** The rotation's commit: stores `doc` in its parent's slot. False if the slot is held. */
  async insert(doc: ArtifactDoc): Promise<boolean> {
    try {
      await this.#collection().insertOne(doc);
      return true;
    } catch (err) {
      if (isDuplicate(err)) return false;
      throw err;
    }
  }

  /**
   * Takes `successor` out of `slot` so a retry of the slot's owner can commit its own.
   * `delivered`: the grace period allows replacing a delivered (but unused) successor;
   * otherwise only one still undelivered. False when that is no longer so (it was used,
   * delivered, or replaced meanwhile).
   */
  async supersede(slot: string, successor: ArtifactDoc, delivered: boolean): Promise<boolean> {
    if (!(await this.fence(successor._id))) return false;
    // Never a tombstone: a revocation that ended the family meanwhile keeps the slot held.
    const result = await this.#collection().updateOne(
      { _id: successor._id, parentId: slot, fence: { $exists: false }, ...(delivered ? {} : { undelivered: { $exists: true } }) },
      { $set: { supersededAt: new Date() }, $unset: { parentId: '' } },
    );
    return result.matchedCount > 0;
  }

  /** Blocks `slot` for good. True when a fence holds it (this one or an earlier one);
   * false when a successor got there first, also one a revocation has since turned into a
   * tombstone: that token was used, and superseding it would free its parent's slot. */
  async fence(slot: string): Promise<boolean> {
    if (await this.insert(fenceDoc(slot))) return true;
    return (await this.successorOf(slot))?._id === fenceId(slot);
  }

  /**
   * Ends a grant's tokens so that no rotation in flight can save a successor afterwards.
   * Each token becomes a tombstone (a fence with no grant, payload or owner) instead of
   * being deleted, so the slot of its parent stays held; the slots still free (the chains'
   * tips, codes not exchanged: `codeIds`) get a fence. A token a rotation stored meanwhile
   * turns up in the next pass and ends the same way, until a pass finds none.
   */
  async revokeGrant(grantId: string, codeIds: readonly string[] = []): Promise<number> {
    let ended = 0;
    let slots: Array<{ _id: string }> = codeIds.map((_id) => ({ _id }));
    for (let pass = 0; pass < MAX_FENCE_PASSES; pass += 1) {
      const tokens = await this.#collection().find({ grantId, fence: { $exists: false } }, { projection: { _id: 1 } }).toArray();
      if (pass > 0 && tokens.length === 0) break;
      ended += await this.end(tokens.map((t) => t._id), { grantId });
      for (const slot of await this.#free([...slots, ...tokens])) await this.fence(slot._id);
      slots = [];
    }
    return ended;
  }

  /** Turns tokens into tombstones: read as absent, owned by no one, yet still holding their
   * parent's slot, so ending a token never makes its parent look unused. */
  async end(ids: readonly string[], filter: { grantId?: string } = {}): Promise<number> {
    if (ids.length === 0) return 0;
    const result = await this.#collection().updateMany(
      { _id: { $in: [...ids] }, ...filter },
      { $set: { fence: true, payload: '{}', expiresAt: fenceExpiry() }, $unset: TOMBSTONE_UNSET },
    );
    return result.modifiedCount;
  }

  /** The slots nothing holds yet (a chain's tip, a code not exchanged): a used token's is
   * held by its successor already and needs no fence. */
  async #free<T extends { _id: string }>(slots: T[]): Promise<T[]> {
    if (slots.length === 0) return [];
    const held = await this.#collection().find({ parentId: { $in: slots.map((s) => s._id) } }, { projection: { parentId: 1 } }).toArray();
    const taken = new Set(held.map((h) => h.parentId));
    return slots.filter((s) => !taken.has(s._id));
  }

  /** Once the answer carrying `id` has left: it was delivered, unless it was replaced meanwhile. */
  async markDelivered(id: string, slot: string): Promise<void> {
    await this.#collection().updateOne({ _id: id, parentId: slot }, { $unset: { undelivered: '' } });
  }
}

/** What a tombstone forgets: whose it was, and anything that made it look live. */
const TOMBSTONE_UNSET = { grantId: '', accountId: '', clientId: '', sessionUid: '', undelivered: '' } as const;

/** A revocation pass that keeps finding new tokens is racing a client refreshing in a loop;
 * each pass fences what it found, so the loop ends long before this. */
const MAX_FENCE_PASSES = 8;

/** Fences carry no grantId: deleting a grant's artifacts keeps them, until they expire. */
function fenceDoc(slot: string): ArtifactDoc {
  return { _id: fenceId(slot), payload: '{}', parentId: slot, fence: true, expiresAt: fenceExpiry() };
}

/** A fence (or tombstone) only has to outlast the requests in flight when it was placed;
 * then it goes, so a revoked family leaves nothing behind for long. */
function fenceExpiry(): Date {
  return new Date(Date.now() + defaults.refreshToken.fenceSeconds * 1000);
}

/** A write refused because a unique key (a slot, a fence's id) was already taken. */
function isDuplicate(err: unknown): boolean {
  return (err as { code?: unknown }).code === DUPLICATE_KEY;
}
