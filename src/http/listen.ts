import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A listener could not bind its port; the message names the port and the setting that moves it. */
export class PortUnavailableError extends Error {
  override name = 'PortUnavailableError';

  constructor(readonly port: number, readonly setting: string, readonly code: 'EADDRINUSE' | 'EACCES') {
    super(code === 'EADDRINUSE'
      ? `port ${port} is already in use (another process, perhaps a second instance, holds it): stop that process or set ${setting} to another port`
      : `port ${port} needs privileges this process does not have: set ${setting} to a port above 1023`);
  }
}

/** Starts listening and resolves with the bound port (the real one when `port` is 0). */
export async function listen(server: Server, port: number, setting: string): Promise<number> {
  server.listen(port);
  try {
    await once(server, 'listening');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') throw new PortUnavailableError(port, setting, code);
    throw err;
  }
  return (server.address() as AddressInfo).port;
}
