import type { EmbeddedOptions } from './embedded.js';

export type MongoKind = 'env' | 'memory-server' | 'jongodb';
/** The MongoDB the server talks to, and how to let go of it at shutdown. */
export interface MongoServer {
  uri: string;
  kind: MongoKind;
  /** The database process when we launched it (the bench reads its CPU time). */
  pid?: number;
  stop(): Promise<void>;
}

/** MONGODB_URI: the operator's MongoDB; nothing to launch or stop. */
export function externalMongo(uri: string, log: (msg: string) => void): MongoServer {
  log('MongoDB: using MONGODB_URI (nothing launched)'); // the URI may hold credentials: not logged
  return { uri, kind: 'env', stop: async () => {} };
}

/**
 * MONGODB_URI if given, else an embedded MongoDB. Production always names its database
 * (settings require MONGODB_URI there), so only a development start loads the embedded
 * launcher: mongodb-memory-server and jongodb are development dependencies, absent from
 * a production install.
 */
export async function openMongo(uri: string | undefined, options: EmbeddedOptions = {}): Promise<MongoServer> {
  const log = options.log ?? ((msg: string) => console.warn(msg));
  if (uri) return externalMongo(uri, log);
  const { startMongo } = await import('./embedded.js');
  return startMongo(undefined, options);
}
