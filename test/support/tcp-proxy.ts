import { once } from 'node:events';
import net from 'node:net';
import mongoose from 'mongoose';

const { BSON } = mongoose.mongo;

/** Which command a reply fault targets: its name (`insert`, `update`, `find`…) and collection. */
export interface CommandMatch {
  command: string;
  collection: string;
  /** The n-th such command from now (1 = the next one). */
  nth?: number;
}

/** What happens to that command's reply; the command itself always reaches the database. */
export type ReplyFault = { delayMs: number } | 'drop';

interface ArmedFault {
  match: CommandMatch;
  fault: ReplyFault;
  remaining: number;
  requestId?: number;
  seen: () => void;
}

/** OP_MSG (MongoDB 3.6+, the only opcode the driver sends): header, flags, then sections. */
const OP_MSG = 2013;

/**
 * forward: a healthy network. hang: a partition (connections open, nothing arrives either
 * way, new connections accepted but never answered). refuse: the database host is down
 * (listener closed, open connections reset). slow: wire messages delayed (`slowShare` of them,
 * chosen at random, by `slowMs`).
 */
export type ProxyMode = 'forward' | 'hang' | 'refuse' | 'slow';

/** A TCP proxy in front of the MongoDB wire server that a test can break on purpose. */
export class TcpProxy {
  readonly #upstream: { host: string; port: number };
  readonly #sockets = new Set<net.Socket>();
  #server: net.Server | undefined;
  #mode: ProxyMode = 'forward';
  #port = 0;
  #faults: ArmedFault[] = [];
  slowMs = 300;
  /** The share of messages (0–1) that `slow` delays. The driver waits for each reply before it
   * sends the next command on a connection, so a delayed message is never overtaken. */
  slowShare = 1;

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

  /**
   * Delays or drops the database's reply to one chosen command while forwarding the command
   * itself, so it is applied: the server sees a slow or lost answer to a write that happened.
   * Resolves once that command has been forwarded.
   */
  failReply(match: CommandMatch, fault: ReplyFault): Promise<void> {
    return new Promise((resolve) => {
      this.#faults.push({ match, fault, remaining: match.nth ?? 1, seen: resolve });
    });
  }

  /** Faults armed but whose command has not come yet (a test asserts its fault was used). */
  get pendingFaults(): number {
    return this.#faults.filter((f) => f.requestId === undefined).length;
  }

  /** Disarms every fault, so one test's leftover cannot hit the next. */
  clearFaults(): void {
    this.#faults = [];
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
    this.#pipe(client, upstream, (message) => this.#watchCommand(message));
    this.#pipe(upstream, client, (message) => this.#faultForReply(message));
  }

  /** Forwards whole wire messages, each after the delay `fault` picks (none: the mode's). */
  #pipe(from: net.Socket, to: net.Socket, fault: (message: Buffer) => ReplyFault | undefined): void {
    let pending = Buffer.alloc(0);
    from.on('data', (chunk: Buffer) => {
      if (this.#mode === 'hang') return; // dropped, as a partition would
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
        const message = pending.subarray(0, pending.readInt32LE(0));
        pending = pending.subarray(message.length);
        const chosen = fault(message);
        if (chosen === 'drop') continue;
        const wait = chosen?.delayMs ?? (this.#mode === 'slow' && Math.random() < this.slowShare ? this.slowMs : 0);
        if (wait > 0) setTimeout(() => to.write(message), wait);
        else to.write(message);
      }
    });
    from.on('close', () => to.destroy());
  }

  #watchCommand(message: Buffer): undefined {
    const fault = this.#faults.find((f) => f.requestId === undefined && matches(message, f.match) && --f.remaining === 0);
    if (fault) {
      fault.requestId = message.readInt32LE(4);
      fault.seen();
    }
    return undefined;
  }

  #faultForReply(message: Buffer): ReplyFault | undefined {
    const responseTo = message.readInt32LE(8);
    const index = this.#faults.findIndex((f) => f.requestId === responseTo);
    if (index < 0) return undefined;
    return this.#faults.splice(index, 1)[0]!.fault;
  }

  #track(socket: net.Socket): net.Socket {
    this.#sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#sockets.delete(socket));
    return socket;
  }
}

/** Whether a client message is the command `match` names (first section: the command document). */
function matches(message: Buffer, match: CommandMatch): boolean {
  if (message.readInt32LE(12) !== OP_MSG || message[20] !== 0) return false;
  const length = message.readInt32LE(21);
  const command = BSON.deserialize(message.subarray(21, 21 + length));
  const [name] = Object.keys(command);
  return name === match.command && command[name] === match.collection;
}
