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

/** oidc-provider calls this once per model name and provider instance; one adapter per name
 * serves every instance (they are rebuilt when keys change, src/oidc/provider-host.ts). Kept
 * apart from adapter.ts because the refresh-token and session adapters extend MongoAdapter
 * (one module holding them all would be an import cycle). */
export function adapterFactory(store: ArtifactStore, deps: AdapterDeps): (name: string) => Adapter {
  const adapters = new Map<string, Adapter>();
  const create = (name: string): Adapter => {
    if (name === 'RefreshToken') return new RefreshTokenAdapter(store, deps);
    if (name === 'Session') return new SessionAdapter(store, deps.cutOffs);
    return new MongoAdapter(store, name);
  };
  return (name) => {
    if (!adapters.has(name)) adapters.set(name, create(name));
    return adapters.get(name)!;
  };
}
