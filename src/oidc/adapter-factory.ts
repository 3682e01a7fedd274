import type { Adapter } from 'oidc-provider';

import type { Settings } from '../config/settings.js';
import { guardedDatabaseCall } from '../db/unavailable.js';
import type { SecurityEvents } from '../security/events.js';
import { MongoAdapter } from './adapter.js';
import { RefreshTokenAdapter } from './refresh-token-adapter.js';
import type { ArtifactStore } from './store.js';

export interface AdapterDeps {
  settings: Settings;
  events: SecurityEvents;
}

/** oidc-provider's storage contract: the calls that reach MongoDB. */
const ADAPTER_METHODS = new Set<PropertyKey>(['upsert', 'find', 'findByUid', 'findByUserCode', 'consume', 'destroy', 'revokeByGrantId']);

/** oidc-provider calls this once per model name. Kept apart from adapter.ts because the
 * refresh-token adapter extends MongoAdapter (one module holding both would be an import cycle). */
export function adapterFactory(store: ArtifactStore, deps: AdapterDeps): (name: string) => Adapter {
  return (name) => unavailableAware(name === 'RefreshToken' ? new RefreshTokenAdapter(store, deps) : new MongoAdapter(store, name));
}

/** A database outage inside any adapter call surfaces as oidc-provider's
 * `temporarily_unavailable` (503), which its own error handlers render per endpoint. */
function unavailableAware(adapter: Adapter): Adapter {
  return new Proxy(adapter, {
    get(target, property) {
      // The target as receiver: getters read its private fields (graceRetryCount).
      const value: unknown = Reflect.get(target, property);
      if (!ADAPTER_METHODS.has(property) || typeof value !== 'function') return value;
      return (...args: unknown[]) => guardedDatabaseCall(() => value.apply(target, args) as Promise<unknown>);
    },
  });
}
