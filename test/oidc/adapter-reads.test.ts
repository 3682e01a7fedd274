import type { CommandStartedEvent } from 'mongodb';
import type { Connection } from 'mongoose';
import type { Context } from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { connectDatabase } from '../../src/db/connection.js';
import { requestMemo } from '../../src/http/request-memo.js';
import { MongoAdapter } from '../../src/oidc/adapter.js';
import { ALL_MODELS, ArtifactStore } from '../../src/oidc/store.js';
import { freshDatabaseUri } from '../support/server.js';

/**
 * The adapter answers a second read of an interaction within one request from the first
 * (oidc-provider reads it twice on every login and consent POST), and never serves a read
 * from before a write, from another request, or for a model written outside the adapter.
 */
let connection: Connection;
let store: ArtifactStore;
const finds: string[] = [];

/** Runs `work` as one request does: inside its own request memo. */
const inRequest = <T>(work: () => Promise<T>): Promise<T> => {
  let result!: T;
  return Promise.resolve(requestMemo()({} as Context, async () => { result = await work(); })).then(() => result);
};

beforeAll(async () => {
  connection = await connectDatabase(freshDatabaseUri('adapter_reads'));
  connection.getClient().on('commandStarted', (event: CommandStartedEvent) => {
    if (event.commandName === 'find') finds.push(String(event.command.find));
  });
  store = new ArtifactStore(connection);
  await store.ensureIndexes(ALL_MODELS);
});

afterAll(async () => {
  await connection?.close();
});

const countFinds = async (work: () => Promise<unknown>) => {
  finds.length = 0;
  await work();
  return finds.length;
};

describe('artifact reads within one request', () => {
  it('reads an interaction once per request, each caller getting its own copy', async () => {
    const interactions = new MongoAdapter(store, 'Interaction');
    await interactions.upsert('i-1', { uid: 'u-1', params: { scope: 'openid' } }, 60);
    let first: Record<string, unknown> | undefined;
    let second: Record<string, unknown> | undefined;
    expect(await countFinds(() => inRequest(async () => {
      first = await interactions.find('i-1') as Record<string, unknown>;
      (first.params as Record<string, string>).scope = 'changed by its caller';
      second = await interactions.find('i-1') as Record<string, unknown>;
    }))).toBe(1);
    expect(second).toMatchObject({ uid: 'u-1', params: { scope: 'openid' } });
    expect(second).not.toBe(first);
  });

  it('reads afresh after the request writes it, and in every other request', async () => {
    const interactions = new MongoAdapter(store, 'Interaction');
    await interactions.upsert('i-2', { uid: 'u-2', result: undefined }, 60);
    const seen = await inRequest(async () => {
      const before = await interactions.find('i-2');
      await interactions.upsert('i-2', { uid: 'u-2', result: { login: { accountId: 'a' } } }, 60);
      const after = await interactions.find('i-2');
      await interactions.destroy('i-2');
      return { before, after, gone: await interactions.find('i-2') };
    });
    expect(seen.before?.result).toBeUndefined();
    expect(seen.after?.result).toEqual({ login: { accountId: 'a' } });
    expect(seen.gone).toBeUndefined();

    await interactions.upsert('i-3', { uid: 'u-3' }, 60);
    expect(await countFinds(() => inRequest(() => interactions.find('i-3')))).toBe(1);
    expect(await countFinds(() => inRequest(() => interactions.find('i-3')))).toBe(1);
    // Outside any request (admin tooling, start-up) nothing is remembered either.
    expect(await countFinds(async () => { await interactions.find('i-3'); await interactions.find('i-3'); })).toBe(2);
  });

  it('always reads sessions afresh: revocations write them outside the adapter', async () => {
    const sessions = new MongoAdapter(store, 'Session');
    await sessions.upsert('s-1', { uid: 'su-1', accountId: 'a', loginTs: 1 }, 60);
    expect(await countFinds(() => inRequest(async () => {
      await sessions.findByUid('su-1');
      await store.collection('Session').deleteOne({ _id: 's-1' });
      expect(await sessions.findByUid('su-1')).toBeUndefined();
    }))).toBe(2);
  });
});
