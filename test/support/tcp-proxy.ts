import { once } from 'node:events';
import net from 'node:net';

/**
 * forward: a healthy network. hang: a partition (connections open, nothing arrives either
 * way, new connections accepted but never answered). refuse: the database host is down
 * (listener closed, open connections reset). slow: every chunk delayed.
 */
export type ProxyMode = 'forward' | 'hang' | 'refuse' | 'slow';

/** A TCP proxy in front of the MongoDB wire server that a test can break on purpose. */
export class TcpProxy {
  readonly #upstream: { host: string; port: number };
  readonly #sockets = new Set<net.Socket>();
  #server: net.Server | undefined;
  #mode: ProxyMode = 'forward';
  #port = 0;
  slowMs = 300;

  private constructor(upstream: { host: string; port: number }) {
    this.#upstream = upstream;
  }

  static async start(upstreamUri: string): Promise<TcpProxy> {
    const url = new URL(upstreamUri);
    const proxy = new TcpProxy({ host: url.hostname, port: Number(url.port) });
    await proxy.#listen();
    return proxy;
  }

  get port(): number {
    return this.#port;
  }

  /** `uri` with its host and port replaced by the proxy's. */
  rewrite(uri: string): string {
    const url = new URL(uri);
    url.host = `127.0.0.1:${this.#port}`;
    return url.toString();
  }

  async set(mode: ProxyMode): Promise<void> {
    const previous = this.#mode;
    this.#mode = mode;
    if (mode === 'refuse') {
      for (const socket of this.#sockets) socket.resetAndDestroy();
      await this.#close();
    } else if (previous === 'refuse') {
      await this.#listen();
    }
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await this.#close();
  }

  async #listen(): Promise<void> {
    const server = net.createServer((client) => this.#accept(client));
    server.listen(this.#port, '127.0.0.1');
    await once(server, 'listening');
    this.#port = (server.address() as net.AddressInfo).port;
    this.#server = server;
  }

  async #close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  #accept(client: net.Socket): void {
    this.#track(client);
    // A connection opened during a partition never reaches the database.
    if (this.#mode === 'hang') return;
    const upstream = this.#track(net.connect(this.#upstream.port, this.#upstream.host));
    this.#pipe(client, upstream);
    this.#pipe(upstream, client);
  }

  #pipe(from: net.Socket, to: net.Socket): void {
    from.on('data', (chunk) => {
      if (this.#mode === 'hang') return; // dropped, as a partition would
      if (this.#mode === 'slow') setTimeout(() => to.write(chunk), this.slowMs);
      else to.write(chunk);
    });
    from.on('close', () => to.destroy());
  }

  #track(socket: net.Socket): net.Socket {
    this.#sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#sockets.delete(socket));
    return socket;
  }
}
