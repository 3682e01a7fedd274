import { setTimeout as sleep } from 'node:timers/promises';
import type { Collection, Connection } from 'mongoose';

import { defaults } from '../../config/defaults.js';

/** A change to stored data or indexes that has to happen once per database, not at every start. */
export interface Migration {
  /** Stable forever: it is the record's id in the `migrations` collection. */
  name: string;
  /** Safe to run again if an instance died halfway (another instance then takes it over). */
  run(): Promise<void>;
}

/** One document per migration ever started on this database. */
interface MigrationDoc {
  _id: string;
  /** Renewed while the migration runs; a claim older than the lease belongs to a dead instance. */
  claimedAt: Date;
  finishedAt?: Date;
}

export interface MigrationOptions {
  log?: (line: string) => void;
  leaseMs?: number;
  pollMs?: number;
}

/**
 * Runs each migration that has not finished on this database, in order. An instance claims
 * a migration by inserting its record (the unique `_id` lets exactly one of several
 * instances starting together win); the others wait until it is finished, so no instance
 * serves before the data is migrated. A claim whose holder died is taken over after the lease.
 */
export async function runMigrations(connection: Connection, migrations: readonly Migration[], options: MigrationOptions = {}): Promise<void> {
  const records = connection.collection<MigrationDoc>('migrations');
  const leaseMs = options.leaseMs ?? defaults.migrations.leaseSeconds * 1000;
  const pollMs = options.pollMs ?? defaults.migrations.pollMs;
  for (const migration of migrations) {
    for (;;) {
      const claim = await claimOrSee(records, migration.name, leaseMs);
      if (claim === 'finished') break;
      if (claim === 'held') {
        await sleep(pollMs);
        continue;
      }
      options.log?.(`migration ${migration.name}: running`);
      await runClaimed(records, migration, claim, Math.max(1, Math.floor(leaseMs / 3)));
      options.log?.(`migration ${migration.name}: done`);
      break;
    }
  }
}

/** The claim's timestamp if this instance now holds the migration, else what it found. */
async function claimOrSee(records: Collection<MigrationDoc>, name: string, leaseMs: number): Promise<Date | 'finished' | 'held'> {
  const doc = await records.findOne({ _id: name });
  if (doc?.finishedAt) return 'finished';
  const now = new Date();
  if (!doc) {
    try {
      await records.insertOne({ _id: name, claimedAt: now });
      return now;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 11000) throw err;
      return 'held';
    }
  }
  if (now.getTime() - doc.claimedAt.getTime() < leaseMs) return 'held';
  // Taken over from a dead instance: conditional on the claim we saw, so one taker wins.
  const taken = await records.updateOne(
    { _id: name, claimedAt: doc.claimedAt, finishedAt: { $exists: false } },
    { $set: { claimedAt: now } },
  );
  return taken.modifiedCount === 1 ? now : 'held';
}

async function runClaimed(records: Collection<MigrationDoc>, migration: Migration, claimedAt: Date, renewMs: number): Promise<void> {
  let claim = claimedAt;
  const renew = setInterval(() => {
    const next = new Date();
    records.updateOne({ _id: migration.name, claimedAt: claim }, { $set: { claimedAt: next } })
      .then((result) => { if (result.modifiedCount === 1) claim = next; })
      // A missed renewal only shortens the lease; the next one tries again.
      .catch(() => undefined);
  }, renewMs);
  try {
    await migration.run();
  } catch (err) {
    // Released at once, so the next start (of any instance) tries again without waiting out the lease.
    await records.deleteOne({ _id: migration.name, claimedAt: claim, finishedAt: { $exists: false } });
    throw err;
  } finally {
    clearInterval(renew);
  }
  await records.updateOne({ _id: migration.name }, { $set: { finishedAt: new Date() } });
}
