import mongoose, { type Connection } from 'mongoose';

/**
 * A dedicated connection (not mongoose's global one) so two servers in one process, as in
 * tests, never share state. Collections are created on first write, not by `create`.
 */
export async function connectDatabase(uri: string): Promise<Connection> {
  const connection = mongoose.createConnection(uri, {
    autoCreate: false,
    autoIndex: false,
    serverSelectionTimeoutMS: 10_000,
  });
  await connection.asPromise();
  return connection;
}
