import type { Connection } from 'mongoose';
import type { CommandStartedEvent } from 'mongodb';

type MongoClient = ReturnType<Connection['getClient']>;

export interface CommandRecord {
  name: string;
  collection: string;
  write: boolean;
}

const WRITES = new Set(['insert', 'update', 'delete', 'findAndModify']);

/** Counts the commands a MongoClient (created with `monitorCommands: true`) sends. */
export class CommandCounter {
  #recording: CommandRecord[] | undefined;

  constructor(client: MongoClient) {
    client.on('commandStarted', (event: CommandStartedEvent) => this.#recording?.push(describe(event)));
  }

  /** Runs `work` and returns the commands started while it ran. */
  async during(work: () => Promise<void>): Promise<{ commands: CommandRecord[]; writes: number }> {
    const commands: CommandRecord[] = [];
    this.#recording = commands;
    try {
      await work();
    } finally {
      this.#recording = undefined;
    }
    return { commands, writes: commands.filter((c) => c.write).length };
  }
}

function describe(event: CommandStartedEvent): CommandRecord {
  const target = (event.command as Record<string, unknown>)[event.commandName];
  return {
    name: event.commandName,
    collection: typeof target === 'string' ? target : '-',
    write: WRITES.has(event.commandName),
  };
}
