import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { connect, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { DryMongoBinary, MongoBinary, MongoMemoryServer } from 'mongodb-memory-server';

import { externalMongo, type MongoServer } from './mongo-server.js';

export interface EmbeddedOptions {
  /** Persist mongod data in `<dataDir>/mongo` (memory-server only); when absent a temp dir is used. */
  dataDir?: string;
  dbName?: string;
  log?: (msg: string) => void;
}

/**
 * Bound on fetching the mongod binary. The first download on a normal machine is ~100 MB and can
 * take a while, so this is generous; without network it fails much sooner (DNS error, ~7 s with
 * the library's 3 retries). It only guards against a black-holed route, where each attempt would
 * otherwise wait for the library's 60 s inactivity timeout. Set MONGOMS_RUNTIME_DOWNLOAD=false to
 * skip the download attempt entirely on offline machines.
 */
const BINARY_TIMEOUT_MS = 120_000;
/** How long jongodb may take to print its URI (it is a native image, normally well under 1 s). */
const JONGODB_READY_TIMEOUT_MS = 20_000;

/** MONGODB_URI if given, else mongodb-memory-server, else jongodb. */
export async function startMongo(envUri: string | undefined, options: EmbeddedOptions = {}): Promise<MongoServer> {
  const { dbName = 'oidc', log = (msg: string) => console.warn(msg) } = options;
  if (envUri) return externalMongo(envUri, log);
  try {
    return await startMemoryServer(dbName, options.dataDir, log);
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
    log(`MongoDB: mongodb-memory-server unavailable (${reason}); falling back to jongodb`);
  }
  return startJongodb(dbName, log);
}

async function startMemoryServer(dbName: string, dataDir: string | undefined, log: (msg: string) => void): Promise<MongoServer> {
  // Resolve (download) the binary first, on its own: that is the step that can hang, and unlike
  // MongoMemoryServer.create() it fails without console.warn-ing a full stack trace. A download
  // that loses the race keeps running in the background until it gives up; it cannot be aborted.
  if (!(await binaryCachedOrReachable())) throw new Error('no cached mongod and its download host is unreachable');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`mongod binary not available after ${BINARY_TIMEOUT_MS / 1000} s`)), BINARY_TIMEOUT_MS);
    timer.unref();
  });
  try {
    await Promise.race([MongoBinary.getPath(), timeout]);
  } finally {
    clearTimeout(timer);
  }
  const dbPath = dataDir ? join(dataDir, 'mongo') : undefined;
  if (dbPath) await mkdir(dbPath, { recursive: true });
  // wiredTiger with an explicit dbPath so `npm start` twice sees the same data; create() finds the
  // binary cached by getPath(). mongodb-memory-server spawns its own watchdog that kills mongod if
  // this process dies, so no exit handler is needed here.
  const server = await MongoMemoryServer.create(dbPath ? { instance: { dbPath, storageEngine: 'wiredTiger' } } : {});
  const uri = server.getUri(dbName);
  log(`MongoDB: mongodb-memory-server at ${uri}${dbPath ? ` (data in ${dbPath})` : ' (temporary data)'}`);
  const pid = server.instanceInfo?.instance.mongodProcess?.pid;
  return { uri, kind: 'memory-server', ...(pid ? { pid } : {}), stop: async () => { await server.stop(); } };
}

/** mongodb-memory-server's default mirror; it honours MONGOMS_DOWNLOAD_MIRROR too. */
const DOWNLOAD_MIRROR = process.env.MONGOMS_DOWNLOAD_MIRROR ?? 'https://fastdl.mongodb.org';
const PROBE_TIMEOUT_MS = 5_000;

/**
 * A cached binary needs no network; otherwise one TCP connect to the mirror tells within
 * seconds whether a download can work, instead of waiting out the download timeout offline.
 */
async function binaryCachedOrReachable(): Promise<boolean> {
  if (await DryMongoBinary.locateBinary(await DryMongoBinary.generateOptions())) return true;
  const mirror = new URL(DOWNLOAD_MIRROR);
  const port = Number(mirror.port || (mirror.protocol === 'http:' ? 80 : 443));
  return new Promise((resolve) => {
    const socket = connect({ host: mirror.hostname, port, timeout: PROBE_TIMEOUT_MS });
    const done = (ok: boolean) => { socket.destroy(); resolve(ok); };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

/** Ask the OS for a free port. Another process could grab it before jongodb binds; that surfaces as a startup error. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function startJongodb(dbName: string, log: (msg: string) => void): Promise<MongoServer> {
  const pkg = createRequire(import.meta.url).resolve('@jongodb/memory-server-bin-linux-x64-gnu/package.json');
  const bin = join(dirname(pkg), 'bin', 'jongodb');
  const port = await freePort();
  const child = spawn(bin, ['--host=127.0.0.1', `--port=${port}`, `--database=${dbName}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  // A synchronous kill is all an 'exit' handler can do; it keeps the emulator from outliving us.
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);

  const started = await new Promise<string>((resolve, reject) => {
    // Both streams are scanned: the URI comes on stdout, JONGODB_START_FAILURE (then a Java stack) on stderr.
    let output = '';
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      process.off('exit', killOnExit);
      child.kill('SIGKILL');
      child.stdout.destroy(); // a grandchild holding the pipes must not keep us alive
      child.stderr.destroy();
      reject(new Error(`jongodb (${bin}) ${why}`));
    };
    const tail = () => (output.trim() ? `: ${output.trim().split('\n').slice(-5).join(' | ')}` : '');
    const timer = setTimeout(() => fail(`printed no URI within ${JONGODB_READY_TIMEOUT_MS / 1000} s${tail()}`), JONGODB_READY_TIMEOUT_MS);
    child.once('error', (err) => fail(`could not be started (${err.message})`));
    const onEarlyExit = (code: number | null, signal: string | null) => fail(`exited before it was ready (code ${code}, signal ${signal})${tail()}`);
    child.once('exit', onEarlyExit);
    const scan = (chunk: string) => {
      if (settled) return; // after startup the output is only drained, not kept
      output = (output + chunk).slice(-8000);
      // Whole lines only: a chunk may end in the middle of the URI.
      const failure = /^JONGODB_START_FAILURE=(.*)\r?\n/m.exec(output);
      if (failure) return fail(`reported a start failure: ${failure[1]}`);
      const found = /^JONGODB_URI=(\S+)\r?\n/m.exec(output);
      if (found?.[1]) {
        settled = true;
        clearTimeout(timer);
        child.off('exit', onEarlyExit);
        resolve(found[1]);
      }
    };
    child.stdout.setEncoding('utf8').on('data', scan);
    child.stderr.setEncoding('utf8').on('data', scan);
  });

  // The URI names the database; force it to dbName even if --database were ignored.
  const url = new URL(started);
  url.pathname = `/${dbName}`;
  const uri = url.toString();
  // Keep draining the pipes (a full pipe would block the emulator) but let the parent exit
  // without an explicit stop(): the 'exit' handler then kills the child.
  child.unref();
  (child.stdout as unknown as { unref(): void }).unref();
  (child.stderr as unknown as { unref(): void }).unref();
  let stopping = false;
  const exited = new Promise<void>((resolve) => child.once('exit', (code, signal) => {
    if (!stopping) log(`MongoDB: jongodb exited unexpectedly (code ${code}, signal ${signal})`);
    resolve();
  }));
  log(`MongoDB: jongodb emulator at ${uri}`);
  log('MongoDB: WARNING: jongodb keeps data in memory only; it is lost when this process exits');

  return {
    uri,
    kind: 'jongodb',
    pid: child.pid,
    stop: async () => {
      stopping = true;
      process.off('exit', killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      // Escalate if the emulator ignores SIGTERM, so stop() always settles.
      const escalate = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(escalate);
    },
  };
}
