/** The part of a driver collection that index upkeep needs. */
export interface IndexedCollection {
  collectionName: string;
  listIndexes(): { toArray(): Promise<IndexDescription[]> };
  dropIndex(name: string): Promise<unknown>;
}

export interface IndexDescription {
  name?: string;
  expireAfterSeconds?: number;
}

/** The collection's indexes; none when it does not exist yet (a fresh database). */
export async function existingIndexes(collection: IndexedCollection): Promise<IndexDescription[]> {
  try {
    return await collection.listIndexes().toArray();
  } catch (err) {
    if ((err as { codeName?: unknown }).codeName === 'NamespaceNotFound') return [];
    throw err;
  }
}

/**
 * Drops those of `names` the collection has. A MongoDB-compatible server without the
 * dropIndexes command keeps them: an unused index only costs writes, so that is said, not fatal.
 */
export async function dropIndexes(collection: IndexedCollection, names: readonly string[], warn: (line: string) => void): Promise<void> {
  const present = new Set((await existingIndexes(collection)).map((index) => index.name));
  for (const name of names.filter((candidate) => present.has(candidate))) {
    try {
      await collection.dropIndex(name);
    } catch (err) {
      const codeName = (err as { codeName?: unknown }).codeName;
      if (codeName === 'IndexNotFound') continue;
      if (codeName !== 'CommandNotFound') throw err;
      warn(`${collection.collectionName}: index ${name} is no longer used but the database cannot drop it (no dropIndexes command)`);
    }
  }
}
