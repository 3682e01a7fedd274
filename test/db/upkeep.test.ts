import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CommandFailedEvent, CommandStartedEvent } from 'mongodb';
import type { Connection } from 'mongoose';
import { afterEach, describe, expect, it } from 'vitest';

import { loadKeySources } from '../../src/config/keys.js';
import { loadSettings } from '../../src/config/settings.js';
import { connectDatabase } from '../../src/db/connection.js';
import { createServer } from '../../src/server.js';
import { ALL_MODELS, ArtifactStore } from '../../src/oidc/store.js';
import { freshDatabaseUri, TEST_ENV } from '../support/server.js';

/**
 * What a start does to the database: the indexes each collection needs and no others, the
 * security events' retention, and data migrations that run once, never a scan per start.
 */
const open: Connection[] = [];
/** One data directory for every start: a second start on a database needs the first's key. */
const dataDir = mkdtemp(path.join(tmpdir(), 'oidc-upkeep-'));
afterEach(async () => {
  await Promise.all(open.splice(0).map((connection) => connection.close()));
});

interface Start {
  connection: Connection;
  commands: CommandStartedEvent[];
  /** Commands the server answered with "no such command". */
  unsupported: Set<string>;
}

/** createServer on `uri` as main.ts does, watching every command it sends while it starts. */
async function start(uri: string, env: Record<string, string> = {}): Promise<Start> {
  const settings = loadSettings({ ...TEST_ENV, DATA_DIR: await dataDir, MONGODB_URI: uri, ...env });
  const connection = await connectDatabase(uri);
  open.push(connection);
  const commands: CommandStartedEvent[] = [];
  const unsupported = new Set<string>();
  connection.getClient().on('commandStarted', (event: CommandStartedEvent) => commands.push(event));
  connection.getClient().on('commandFailed', (event: CommandFailedEvent) => {
    if ((event.failure as { codeName?: string }).codeName === 'CommandNotFound') unsupported.add(event.commandName);
  });
  const parts = await createServer(settings, await loadKeySources(settings), connection);
  parts.keyRing.stop();
  return { connection, commands, unsupported };
}

async function indexNames(connection: Connection, collection: string): Promise<string[]> {
  return (await connection.collection(collection).listIndexes().toArray()).map((index) => String(index.name)).sort();
}

/** The indexes each collection is meant to have, written out: each serves a query in src/. */
const INTENDED: Record<string, string[]> = {
  oidc_refresh_token: ['_id_', 'expiresAt_ttl', 'grantId_1_issuedAt_-1', 'parentId_slot'],
  oidc_access_token: ['_id_', 'expiresAt_ttl', 'grantId_1'],
  oidc_authorization_code: ['_id_', 'expiresAt_ttl', 'grantId_1'],
  oidc_device_code: ['_id_', 'expiresAt_ttl', 'grantId_1', 'userCode_1'],
  oidc_session: ['_id_', 'accountId_1', 'expiresAt_ttl', 'uid_1'],
  oidc_grant: ['_id_', 'accountId_1', 'clientId_1', 'expiresAt_ttl'],
  oidc_client_credentials: ['_id_', 'clientId_1', 'expiresAt_ttl'],
  oidc_backchannel_authentication_request: ['_id_', 'expiresAt_ttl', 'grantId_1'],
  oidc_pre_authorized_code: ['_id_', 'expiresAt_ttl', 'grantId_1'],
  oidc_client: ['_id_', 'expiresAt_ttl'],
  oidc_interaction: ['_id_', 'expiresAt_ttl'],
  oidc_initial_access_token: ['_id_', 'expiresAt_ttl'],
  oidc_registration_access_token: ['_id_', 'expiresAt_ttl'],
  oidc_replay_detection: ['_id_', 'expiresAt_ttl'],
  oidc_pushed_authorization_request: ['_id_', 'expiresAt_ttl'],
  events: ['_id_', 'accountId_1_at_-1', 'at_ttl'],
};

const OLD_LOOKUPS = ['grantId', 'uid', 'userCode', 'accountId', 'clientId', 'sessionUid'];

/** The indexes every earlier version created, on every artifact collection and on events
 * (refresh tokens' parentId_1 is the successor slot's business, tested with the chains). */
async function createOldIndexes(connection: Connection): Promise<void> {
  const store = new ArtifactStore(connection);
  for (const model of ALL_MODELS) {
    await store.collection(model).createIndexes([
      { key: { expiresAt: 1 }, name: 'expiresAt_ttl', expireAfterSeconds: 0 },
      ...OLD_LOOKUPS.map((field) => ({ key: { [field]: 1 }, name: `${field}_1`, sparse: true })),
    ]);
  }
  await connection.collection('events').createIndexes([
    { key: { accountId: 1, at: -1 }, name: 'accountId_1_at_-1' },
    { key: { grantId: 1 }, name: 'grantId_1' },
    { key: { type: 1, at: -1 }, name: 'type_1_at_-1' },
  ]);
}

const dropsSent = (commands: CommandStartedEvent[]) => commands
  .filter((c) => c.commandName === 'dropIndexes')
  .map((c) => `${String(c.command.dropIndexes)}.${String(c.command.index)}`)
  .sort();

const DAY = 24 * 60 * 60;

describe('indexes', () => {
  it('a fresh database gets exactly the indexes its queries use', async () => {
    const { connection, commands } = await start(freshDatabaseUri('fresh_indexes'));
    expect(dropsSent(commands)).toEqual([]);
    for (const [collection, names] of Object.entries(INTENDED)) {
      expect({ collection, names: await indexNames(connection, collection) }).toEqual({ collection, names });
    }
  });

  it('an existing deployment loses the indexes no query uses, once', async () => {
    const uri = freshDatabaseUri('old_indexes');
    const seeded = await connectDatabase(uri);
    open.push(seeded);
    await createOldIndexes(seeded);

    const { connection, commands, unsupported } = await start(uri);
    const expected: string[] = [];
    for (const [collection, names] of Object.entries(INTENDED)) {
      const old = collection === 'events' ? ['grantId_1', 'type_1_at_-1'] : OLD_LOOKUPS.map((field) => `${field}_1`);
      expected.push(...old.filter((name) => !names.includes(name)).map((name) => `${collection}.${name}`));
    }
    expect(dropsSent(commands)).toEqual(expected.sort());
    // The jongodb emulator has no dropIndexes command: there the server warns and keeps them.
    if (!unsupported.has('dropIndexes')) {
      for (const [collection, names] of Object.entries(INTENDED)) {
        expect({ collection, names: await indexNames(connection, collection) }).toEqual({ collection, names });
      }
    }

    const again = await start(uri);
    expect(dropsSent(again.commands)).toEqual([]);
  });
});

describe('security events', () => {
  const retention = async (connection: Connection) =>
    (await connection.collection('events').listIndexes().toArray()).find((index) => index.name === 'at_ttl')?.expireAfterSeconds;

  it('are deleted 90 days after they happened unless EVENTS_RETENTION_DAYS says otherwise', async () => {
    expect(await retention((await start(freshDatabaseUri('events_default'))).connection)).toBe(90 * DAY);
    expect(await retention((await start(freshDatabaseUri('events_set'), { EVENTS_RETENTION_DAYS: '7' })).connection)).toBe(7 * DAY);
  });

  it('follow a changed EVENTS_RETENTION_DAYS on an existing deployment', async () => {
    const uri = freshDatabaseUri('events_changed');
    await start(uri);
    const { connection, commands, unsupported } = await start(uri, { EVENTS_RETENTION_DAYS: '30' });
    const collMod = commands.find((c) => c.commandName === 'collMod');
    expect(collMod?.command).toMatchObject({ collMod: 'events', index: { name: 'at_ttl', expireAfterSeconds: 30 * DAY } });
    // The emulator has no collMod: there the server warns and keeps the old retention.
    if (!unsupported.has('collMod')) expect(await retention(connection)).toBe(30 * DAY);

    const unchanged = await start(uri, { EVENTS_RETENTION_DAYS: '30' });
    if (!unsupported.has('collMod')) expect(unchanged.commands.some((c) => c.commandName === 'collMod')).toBe(false);
  });
});

describe('start-up', () => {
  it('lowercases legacy emails once, and later starts read no account at all', async () => {
    const uri = freshDatabaseUri('legacy_emails');
    const seeded = await connectDatabase(uri);
    open.push(seeded);
    const now = new Date();
    await seeded.collection('accounts').insertMany(Array.from({ length: 1_203 }, (_, i) => ({
      _id: `legacy-${String(i).padStart(4, '0')}` as never, username: `legacy${i}`, passwordHash: 'x', emailVerified: false, disabled: false,
      createdAt: now, updatedAt: now, ...(i % 100 === 0 ? { email: `Legacy.User${i}@Example.COM` } : i % 3 === 0 ? {} : { email: `user${i}@example.com` }),
    })));

    await start(uri);
    const mixed = await seeded.collection('accounts').find({ email: { $regex: '[A-Z]' } }).toArray();
    expect(mixed).toEqual([]);
    expect((await seeded.collection('accounts').findOne({ _id: 'legacy-1200' as never }))?.email).toBe('legacy.user1200@example.com');
    expect(await seeded.collection('migrations').countDocuments({ finishedAt: { $exists: true } })).toBe(3);

    const again = await start(uri);
    expect(again.commands.filter((c) => c.command.find === 'accounts')).toEqual([]);
  });
});
