import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { connectDatabase } from '../../src/db/connection.js';
import { runMigrations, type Migration } from '../../src/db/migrations.js';
import { freshDatabaseUri } from '../support/server.js';

/** Two instances starting together on one database, each running the same migrations. */
let first: Connection;
let second: Connection;

beforeAll(async () => {
  const uri = freshDatabaseUri('migrations');
  [first, second] = await Promise.all([connectDatabase(uri), connectDatabase(uri)]);
});

afterAll(async () => {
  await Promise.all([first?.close(), second?.close()]);
});

/** A migration that counts its runs and takes `ms` to finish. */
function counting(name: string, ms = 0): Migration & { runs: number; finishedAt?: number } {
  const migration = {
    name,
    runs: 0,
    finishedAt: undefined as number | undefined,
    async run() {
      migration.runs += 1;
      await sleep(ms);
      migration.finishedAt = Date.now();
    },
  };
  return migration;
}

const fast = { pollMs: 20 };

describe('migrations', () => {
  it('run once when two instances start together, and neither goes on before it is finished', async () => {
    const migration = counting('together', 300);
    const settled: number[] = [];
    await Promise.all([first, second].map(async (connection) => {
      await runMigrations(connection, [migration], fast);
      settled.push(Date.now());
    }));
    expect(migration.runs).toBe(1);
    for (const at of settled) expect(at).toBeGreaterThanOrEqual(migration.finishedAt!);
    const record = await first.collection('migrations').findOne({ _id: 'together' as never });
    expect(record?.finishedAt).toBeInstanceOf(Date);
  });

  it('never run again on a later start', async () => {
    const migration = counting('later');
    await runMigrations(first, [migration], fast);
    await runMigrations(second, [migration], fast);
    await runMigrations(first, [migration], fast);
    expect(migration.runs).toBe(1);
  });

  it('are taken over when the instance that claimed one died before finishing it', async () => {
    const migration = counting('orphaned');
    await first.collection('migrations').insertOne({ _id: 'orphaned' as never, claimedAt: new Date(Date.now() - 5_000) });
    await Promise.all([
      runMigrations(first, [migration], { ...fast, leaseMs: 1_000 }),
      runMigrations(second, [migration], { ...fast, leaseMs: 1_000 }),
    ]);
    expect(migration.runs).toBe(1);
  });

  it('stay claimed while a slow one runs past its lease, renewed by the instance running it', async () => {
    const migration = counting('slow', 700);
    const running = runMigrations(first, [migration], { ...fast, leaseMs: 300 });
    await sleep(450);
    await runMigrations(second, [migration], { ...fast, leaseMs: 300 });
    await running;
    expect(migration.runs).toBe(1);
  });

  it('that failed are released, so the next start runs them again', async () => {
    const failing: Migration = { name: 'failing', run: () => Promise.reject(new Error('disk full')) };
    await expect(runMigrations(first, [failing], fast)).rejects.toThrow('disk full');
    const retried = counting('failing');
    await runMigrations(second, [retried], fast);
    expect(retried.runs).toBe(1);
  });
});
