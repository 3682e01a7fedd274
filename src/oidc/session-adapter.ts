import type { AdapterPayload } from 'oidc-provider';

import type { CutOffs } from '../revocation/cutoff.js';
import { MongoAdapter } from './adapter.js';
import type { ArtifactDoc, ArtifactStore } from './store.js';

/**
 * Sessions, read through the user's cut-off. oidc-provider saves the session it loaded at
 * the end of every request, so a request in flight during a revocation writes a deleted
 * session back. Such a session was signed in before the cut-off, so it reads as absent:
 * oidc-provider then treats the cookie as signed out everywhere it looks (authorization,
 * prompt=none, the login and consent pages, resume, logout) and overwrites the record
 * with an empty one.
 *
 * A session its user signed out in the account center is a tombstone (endSessionRecord in
 * store.ts): it reads as absent, and the save of a request in flight does not replace it.
 */
export class SessionAdapter extends MongoAdapter {
  readonly #cutOffs: CutOffs;

  constructor(store: ArtifactStore, cutOffs: CutOffs) {
    super(store, 'Session');
    this.#cutOffs = cutOffs;
  }

  override async find(id: string): Promise<AdapterPayload | undefined> {
    return this.signedIn(await super.find(id));
  }

  override async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.signedIn(await super.findByUid(uid));
  }

  /** Never over a tombstone: the filter misses it and the upsert's insert hits its _id. */
  protected override async replace(id: string, doc: ArtifactDoc): Promise<void> {
    try {
      await this.collection.replaceOne({ _id: id, endedAt: { $exists: false } }, doc, { upsert: true });
    } catch (err) {
      if ((err as { code?: unknown }).code !== DUPLICATE_KEY) throw err;
    }
  }

  protected override isExpired(doc: ArtifactDoc): boolean {
    return doc.endedAt !== undefined || super.isExpired(doc);
  }

  private async signedIn(session: AdapterPayload | undefined): Promise<AdapterPayload | undefined> {
    if (!session?.accountId) return session;
    return (await this.#cutOffs.isLive(session.accountId, session.loginTs)) ? session : undefined;
  }
}

const DUPLICATE_KEY = 11000;
