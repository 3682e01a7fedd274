import type { ApiCollections, ApiResourceRecord, RoleRecord } from './records.js';

/** The registered APIs and roles as one instance last read them. */
export interface CatalogSnapshot {
  version: number;
  byIndicator: ReadonlyMap<string, ApiResourceRecord>;
  byId: ReadonlyMap<string, ApiResourceRecord>;
  roles: ReadonlyMap<string, RoleRecord>;
}

/**
 * APIs and roles on the token path, read through a cache: each instance checks the
 * catalog's version counter at most once per `refreshMs` and reloads everything when it
 * moved. Another instance's change is therefore seen within `refreshMs` (plus one read);
 * the instance that made it sees it at once. User role assignments and client grants are
 * not cached: they are read at every token issue.
 */
export class ApiCatalog {
  readonly #collections: ApiCollections;
  readonly #refreshMs: number;
  #snapshot: CatalogSnapshot | undefined;
  #checkedAt = 0;
  #checking: Promise<CatalogSnapshot> | undefined;

  constructor(collections: ApiCollections, refreshMs: number) {
    this.#collections = collections;
    this.#refreshMs = refreshMs;
  }

  get collections(): ApiCollections {
    return this.#collections;
  }

  async current(): Promise<CatalogSnapshot> {
    if (this.#snapshot && Date.now() - this.#checkedAt < this.#refreshMs) return this.#snapshot;
    // One check in flight per instance, however many requests arrive meanwhile.
    this.#checking ??= this.#check().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  /** After a write: tells every instance (through the counter) and this one at once. */
  async changed(): Promise<CatalogSnapshot> {
    await this.#collections.state.updateOne({ _id: 'catalog' }, { $inc: { version: 1 } }, { upsert: true });
    // A check that began before the write may have read the old version; let it finish first.
    await this.#checking?.catch(() => undefined);
    this.#checkedAt = 0;
    this.#snapshot = undefined;
    return this.current();
  }

  async #check(): Promise<CatalogSnapshot> {
    const startedAt = Date.now();
    // The version is read before the data: a write landing in between is picked up next time.
    const state = await this.#collections.state.findOne({ _id: 'catalog' });
    const version = state?.version ?? 0;
    if (!this.#snapshot || this.#snapshot.version !== version) this.#snapshot = await this.#load(version);
    this.#checkedAt = startedAt;
    return this.#snapshot;
  }

  async #load(version: number): Promise<CatalogSnapshot> {
    const [resources, roles] = await Promise.all([
      this.#collections.resources.find({}).toArray(),
      this.#collections.roles.find({}).toArray(),
    ]);
    return {
      version,
      byIndicator: new Map(resources.map((resource) => [resource.indicator, resource])),
      byId: new Map(resources.map((resource) => [resource._id, resource])),
      roles: new Map(roles.map((role) => [role._id, role])),
    };
  }
}
