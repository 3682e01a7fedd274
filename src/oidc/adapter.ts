import Provider, { errors, type Adapter, type AdapterPayload } from 'oidc-provider';

import { forgetMemoized, memoized } from '../http/request-memo.js';
import { LOOKUP_FIELDS, type ArtifactDoc, type ArtifactStore } from './store.js';

/** Models where a second use of a consumed artifact means a stolen copy (RFC 9700 4.14, 4.1). */
const REPLAY_REVOKES_GRANT = new Set(['RefreshToken', 'AuthorizationCode']);

/**
 * Records oidc-provider reads twice in one request: the interaction, by our login and
 * consent routes (interactionDetails) and again by interactionFinished. Within a request
 * the second read answers from the first until this adapter writes the model: two MongoDB
 * round trips fewer per sign-in. Only models nothing else writes: sessions are also written
 * straight to the store by revocations (src/revocation/), so they are always read afresh.
 */
const READ_ONCE_PER_REQUEST = new Set(['Interaction']);

/** What a replay needs to know about the artifact: whose it was and what it hangs off. */
const REPLAY_FIELDS = { grantId: 1, accountId: 1, clientId: 1, supersededAt: 1 } as const;

/**
 * oidc-provider's storage contract over MongoDB. Expired records read as absent even
 * before the TTL monitor deletes them, and consume() is one conditional update so two
 * requests racing with the same code or refresh token cannot both win.
 */
export class MongoAdapter implements Adapter {
  protected readonly store: ArtifactStore;
  readonly name: string;

  constructor(store: ArtifactStore, name: string) {
    this.store = store;
    this.name = name;
  }

  protected get collection() {
    return this.store.collection(this.name);
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    await this.written(this.replace(id, this.toDoc(id, payload, expiresIn)));
  }

  /** The write behind upsert; sessions make it conditional (src/oidc/session-adapter.ts). */
  protected async replace(id: string, doc: ArtifactDoc): Promise<void> {
    await this.collection.replaceOne({ _id: id }, doc, { upsert: true });
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return this.live(await this.readOne('_id', id));
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.live(await this.readOne('uid', uid));
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.live(await this.readOne('userCode', userCode));
  }

  async consume(id: string): Promise<void> {
    const result = await this.written(this.collection.updateOne(
      { _id: id, consumedAt: { $exists: false } },
      { $set: { consumedAt: new Date() } },
    ));
    if (result.matchedCount === 0) await this.lostConsumeRace(id);
  }

  async destroy(id: string): Promise<void> {
    await this.written(this.collection.deleteOne({ _id: id }));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.written(this.collection.deleteMany({ grantId }));
  }

  /** The record whose `field` is `value`, read once per request for READ_ONCE_PER_REQUEST. */
  private readOne(field: '_id' | 'uid' | 'userCode', value: string): Promise<ArtifactDoc | null> {
    const read = () => this.collection.findOne({ [field]: value });
    return READ_ONCE_PER_REQUEST.has(this.name) ? memoized(`artifact:${this.name}:${field}:${value}`, read) : read();
  }

  /** Once a write to this model settles, this request's reads of it load afresh. */
  private async written<T>(write: Promise<T>): Promise<T> {
    try {
      return await write;
    } finally {
      if (READ_ONCE_PER_REQUEST.has(this.name)) forgetMemoized(`artifact:${this.name}:`);
    }
  }

  /** Another request consumed it between our read and our write: that is a replay. */
  protected async lostConsumeRace(id: string): Promise<void> {
    if (!REPLAY_REVOKES_GRANT.has(this.name)) return;
    const doc = await this.collection.findOne({ _id: id }, { projection: REPLAY_FIELDS });
    if (doc?.grantId) await this.revokeReplayed(doc.grantId, doc);
    throw new errors.InvalidGrant(`${this.name === 'RefreshToken' ? 'refresh token' : 'authorization code'} already used`);
  }

  /** What a replay of this model's artifact costs its grant. */
  protected async revokeReplayed(grantId: string, _doc: ArtifactDoc): Promise<void> {
    await this.revokeFamily(grantId);
  }

  /** Revokes the grant and announces it the way oidc-provider's own revocation does, so
   * `grant.revoked` listeners (security events) see our race-loser path too. */
  protected async revokeFamily(grantId: string): Promise<void> {
    await this.store.revokeGrant(grantId);
    const ctx = Provider.ctx;
    ctx?.oidc.provider.emit('grant.revoked', ctx, grantId);
  }

  /** The stored record: the payload as text, with the fields we query by lifted out. */
  protected toDoc(id: string, payload: AdapterPayload, expiresIn?: number): ArtifactDoc {
    const doc: ArtifactDoc = { _id: id, payload: JSON.stringify(payload) };
    if (expiresIn) doc.expiresAt = new Date(Date.now() + expiresIn * 1000);
    const record = payload as Record<string, unknown>;
    for (const field of LOOKUP_FIELDS) {
      const value = record[field];
      if (typeof value === 'string') doc[field] = value;
    }
    if (typeof payload.rotations === 'number') doc.rotations = payload.rotations;
    if (typeof payload.iat === 'number') doc.issuedAt = new Date(payload.iat * 1000);
    return doc;
  }

  protected isExpired(doc: ArtifactDoc): boolean {
    return doc.expiresAt !== undefined && doc.expiresAt.getTime() <= Date.now();
  }

  protected toPayload(doc: ArtifactDoc): AdapterPayload {
    const payload = JSON.parse(doc.payload) as AdapterPayload;
    if (doc.consumedAt) payload.consumed = Math.floor(doc.consumedAt.getTime() / 1000);
    return payload;
  }

  private live(doc: ArtifactDoc | null): AdapterPayload | undefined {
    if (!doc || this.isExpired(doc)) return undefined;
    return this.toPayload(doc);
  }
}
