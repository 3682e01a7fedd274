import type { Adapter } from 'oidc-provider';

import type { Settings } from '../config/settings.js';
import type { CutOffs } from '../revocation/cutoff.js';
import { guardedDatabaseCall } from '../db/unavailable.js';
import type { SecurityEvents } from '../security/events.js';
import { MongoAdapter } from './adapter.js';
import { CodeAdapter } from './code-adapter.js';
import { RefreshTokenAdapter } from './refresh-token-adapter.js';
import { DeviceCodeAdapter } from './device-code-adapter.js';
import { ReplayAdapter } from './replay-adapter.js';
import { SessionAdapter } from './session-adapter.js';
import type { ArtifactStore } from './store.js';

export interface AdapterDeps {
  settings: Settings;
  events: SecurityEvents;
  cutOffs: CutOffs;
}

/** oidc-provider's storage contract: the calls that reach MongoDB. */
const ADAPTER_METHODS = new Set<PropertyKey>(['upsert', 'find', 'findByUid', 'findByUserCode', 'consume', 'destroy', 'revokeByGrantId']);

/** oidc-provider calls this once per model name and provider instance; one adapter per name
 * serves every instance (they are rebuilt when keys change, src/oidc/provider-host.ts). Kept
 * apart from adapter.ts because the refresh-token and session adapters extend MongoAdapter
 * (one module holding them all would be an import cycle). */
export function adapterFactory(store: ArtifactStore, deps: AdapterDeps): (name: string) => Adapter {
  const adapters = new Map<string, Adapter>();
  const create = (name: string): Adapter => {
    if (name === 'RefreshToken') return new RefreshTokenAdapter(store, deps);
    if (name === 'AuthorizationCode') return new CodeAdapter(store);
    if (name === 'Session') return new SessionAdapter(store, deps.cutOffs);
    if (name === 'ReplayDetection') return new ReplayAdapter(store);
    if (name === 'DeviceCode') return new DeviceCodeAdapter(store);
    return new MongoAdapter(store, name);
  };
  return (name) => {
    if (!adapters.has(name)) adapters.set(name, unavailableAware(create(name)));
    return adapters.get(name)!;
  };
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
