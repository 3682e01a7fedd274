import type { Adapter } from 'oidc-provider';

import type { Settings } from '../config/settings.js';
import type { CutOffs } from '../revocation/cutoff.js';
import type { SecurityEvents } from '../security/events.js';
import { MongoAdapter } from './adapter.js';
import { RefreshTokenAdapter } from './refresh-token-adapter.js';
import { SessionAdapter } from './session-adapter.js';
import type { ArtifactStore } from './store.js';

export interface AdapterDeps {
  settings: Settings;
  events: SecurityEvents;
  cutOffs: CutOffs;
}

/** oidc-provider calls this once per model name. Kept apart from adapter.ts because the
 * refresh-token and session adapters extend MongoAdapter (one module holding both would be an import cycle). */
export function adapterFactory(store: ArtifactStore, deps: AdapterDeps): (name: string) => Adapter {
  return (name) => {
    if (name === 'RefreshToken') return new RefreshTokenAdapter(store, deps);
    if (name === 'Session') return new SessionAdapter(store, deps.cutOffs);
    return new MongoAdapter(store, name);
  };
}
