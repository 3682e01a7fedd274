import type { AdapterPayload } from 'oidc-provider';

import type { CutOffs } from '../revocation/cutoff.js';
import { MongoAdapter } from './adapter.js';
import type { ArtifactStore } from './store.js';

/**
 * Sessions, read through the user's cut-off. oidc-provider saves the session it loaded at
 * the end of every request, so a request in flight during a revocation writes a deleted
 * session back. Such a session was signed in before the cut-off, so it reads as absent:
 * oidc-provider then treats the cookie as signed out everywhere it looks (authorization,
 * prompt=none, the login and consent pages, resume, logout) and overwrites the record
 * with an empty one.
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

  private async signedIn(session: AdapterPayload | undefined): Promise<AdapterPayload | undefined> {
    if (!session?.accountId) return session;
    return (await this.#cutOffs.isLive(session.accountId, session.loginTs)) ? session : undefined;
  }
}
