/**
 * The server as the image runs it (the Dockerfile's CMD) with NODE_ENV=production, in its
 * own process, so its start time and memory are its own and not the load generator's.
 * Needs `npm run build` first (`npm run bench` does it).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

import { generateEncryptionKey } from '../src/config/keys.js';
import { projectRoot } from '../src/config/paths.js';
import { freePort } from '../src/db/embedded.js';

const DOCKERFILE = path.join(projectRoot, 'Dockerfile');
const READY_TIMEOUT_MS = 30_000;
const POLL_MS = 10;

/** The production settings main.ts requires; generated once and shared by every start. */
export interface ProductionSecrets {
  keyEncryptionKey: string;
  admin: { clientId: string; clientSecret: string };
}

export async function productionSecrets(): Promise<ProductionSecrets> {
  return {
    keyEncryptionKey: generateEncryptionKey(),
    admin: { clientId: 'bench-admin', clientSecret: randomBytes(24).toString('base64url') },
  };
}

export interface ProductionServer {
  issuer: string;
  /** Where this process listens; the issuer's own address unless it serves another's issuer. */
  url: string;
  /** From spawn to the first `/health/ready` answering 200. */
  readyMs: number;
  /** Current and peak resident set size of the server process, in bytes (Linux /proc). */
  memory(): Promise<{ rss: number; peak: number }>;
  /** CPU time the server process has used so far (user + system), in seconds, by thread. */
  cpu(): Promise<ServerCpu>;
  stop(): Promise<void>;
}

/**
 * The image's own command (the Dockerfile's exec-form CMD: `node`, its flags, the entry
 * script), so what is measured is what ships, V8's heap settings included.
 */
export async function imageCommand(): Promise<{ nodeArgs: string[]; entry: string }> {
  const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(await readFile(DOCKERFILE, 'utf8'))?.[1];
  const argv = cmd ? (JSON.parse(cmd) as string[]) : [];
  if (argv[0] !== 'node' || argv.length < 2) throw new Error(`expected CMD ["node", …, "<entry>"] in ${DOCKERFILE}`);
  return { nodeArgs: argv.slice(1, -1), entry: path.join(projectRoot, argv.at(-1)!) };
}

/** `issuer`: another instance's, as two instances behind one load balancer share it. */
export async function startProductionServer(mongoUri: string, secrets: ProductionSecrets, options: { issuer?: string } = {}): Promise<ProductionServer> {
  const { nodeArgs, entry } = await imageCommand();
  if (!existsSync(entry)) throw new Error(`${entry} missing: run npm run build first`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const issuer = options.issuer ?? url;
  // A clean environment: the bench's own (tsx's loader in NODE_OPTIONS, npm's variables)
  // would change what the server loads and so what it weighs.
  const env = {
    PATH: process.env.PATH ?? '', NODE_ENV: 'production', PORT: String(port), ISSUER: issuer, MONGODB_URI: mongoUri,
    KEY_ENCRYPTION_KEY: secrets.keyEncryptionKey,
    // Behind a proxy as in production: the load generator's virtual users each come from
    // a network of their own (X-Forwarded-For), as real users do; one network alone is
    // held to its share of the hashing gate and would be load-shed by design.
    TRUST_PROXY: 'true',
    ADMIN_CLIENT_ID: secrets.admin.clientId, ADMIN_CLIENT_SECRET: secrets.admin.clientSecret,
    // The listener on, as shipped, on a free port: two instances (the soak), or another bench
    // on the machine, must not collide.
    METRICS_PORT: String(await freePort()),
  };
  const started = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, entry], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const escalate = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(escalate);
  };
  try {
    await untilReady(url, () => child.exitCode !== null, () => output);
  } catch (err) {
    await stop();
    throw err;
  }
  const readyMs = performance.now() - started;
  return { issuer, url, readyMs, memory: () => residentMemory(child.pid!), cpu: () => serverCpu(child.pid!), stop };
}

async function untilReady(url: string, hasExited: () => boolean, output: () => string): Promise<void> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  while (performance.now() < deadline) {
    if (hasExited()) throw new Error(`server exited before it was ready:\n${output().trim()}`);
    // Connection refused until it listens: that is the expected answer while it starts.
    const status = await fetch(`${url}/health/ready`).then((res) => { void res.body?.cancel(); return res.status; }, () => 0);
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new Error(`server not ready after ${READY_TIMEOUT_MS / 1000} s:\n${output().trim()}`);
}

/** VmRSS and VmHWM (the kernel's high-water mark of the resident set) of a process. */
async function residentMemory(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: kib('VmRSS') * 1024, peak: kib('VmHWM') * 1024 };
}

/** Linux reports process CPU time in clock ticks of 1/100 s (USER_HZ). */
const TICKS_PER_SECOND = 100;

export interface ServerCpu {
  /** The whole process, threads that have ended included. */
  total: number;
  /** The event loop: HTTP, oidc-provider, MongoDB driver, our code. */
  main: number;
  /** libuv's pool, where the argon2id password checks run (src/security/argon2.ts). */
  threadPool: number;
}

async function serverCpu(pid: number): Promise<ServerCpu> {
  let main = 0;
  let threadPool = 0;
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    const [name, seconds] = await Promise.all([readFile(`/proc/${pid}/task/${tid}/comm`, 'utf8'), cpuSeconds(`/proc/${pid}/task/${tid}/stat`)]);
    if (tid === String(pid)) main = seconds;
    else if (name.trim() === 'libuv-worker') threadPool += seconds;
  }
  return { total: await processCpuSeconds(pid), main, threadPool };
}

/** CPU time (user + system) a process has used so far, in seconds. */
export function processCpuSeconds(pid: number): Promise<number> {
  return cpuSeconds(`/proc/${pid}/stat`);
}

/** utime + stime of a process or thread, from its stat file (fields 14 and 15). */
async function cpuSeconds(statFile: string): Promise<number> {
  const stat = await readFile(statFile, 'utf8');
  // The command name (field 2) is parenthesised and may hold spaces: count from its end.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}
