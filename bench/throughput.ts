/**
 * client_credentials → JWT access token throughput of our server (metrics and logs on, at
 * info) against bare oidc-provider issuing the same token, each in its own process, under
 * the same bounded load: CONCURRENCY keep-alive loops for SECONDS at a time.
 *
 * PAIRS pairs of processes, one pair after the other: a process's speed is partly luck,
 * fixed for its lifetime (heap layout, JIT timing). Measured here with three launches of the
 * same tree in one harness: 5, 21 and 26 µs a token above the same bare process, against an
 * instrumentation cost of about that size, so a single pair's ratio said as much about the
 * draw as about the code. Within a pair, short rounds alternate ours and bare, so background
 * load on a shared machine falls on both alike; the ratio is the median over every pair's
 * rounds of ours / bare within the round (a burst of background load spoils one round, not
 * the result). On a machine with two or more CPUs the servers run on one CPU and this load
 * generator on another (taskset), so the generator's own work never competes with the
 * server it measures. The CPU time each server spent per token (from /proc) is printed too,
 * as the contention-free view, with ours minus bare for each pair.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import http from 'node:http';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import { defaults } from '../config/defaults.js';
import { freePort } from '../src/db/embedded.js';
import { processCpuSeconds } from './production-server.js';
import { percentile } from './stats.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
/** None when profiling, so each profile covers exactly the measured requests; otherwise
 * long enough for both servers' hot paths to be compiled by the JIT. */
const WARMUP_SECONDS = process.env.BENCH_CPU_PROF ? 0 : 5;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
/** One when profiling, so each server's profile file is written once. */
const PAIRS = Number(process.env.BENCH_PAIRS ?? (process.env.BENCH_CPU_PROF ? 1 : 3));
/** The issue's bar: instrumentation may cost at most 5 %. */
export const MIN_RATIO = 0.95;

export interface ThroughputResult {
  /** Tokens per second over all rounds. */
  ours: number;
  bare: number;
  /** Median over the rounds of ours / bare. */
  ratio: number;
  /** Lowest and highest round ratio. */
  spread: [number, number];
  /** Server CPU time per token, µs (undefined without /proc); `perPair` is ours minus bare
   * within each pair, which shows how much of the result is the draw of processes. */
  cpu?: { ours: number; bare: number; perPair: number[] };
  /** Whether servers and load generator ran on CPUs of their own. */
  pinned: boolean;
  /** Process pairs (ours and bare) measured one after the other. */
  pairs: number;
}

interface Target {
  name: 'ours' | 'bare';
  port: number;
  child: ChildProcess;
}

export async function measureThroughput(options: { mongoUri: string; dataDir: string }): Promise<ThroughputResult> {
  const issuer = `http://127.0.0.1:${defaults.port}`;
  const common = { NODE_ENV: 'test', ISSUER: issuer, DATA_DIR: options.dataDir, MONGODB_URI: options.mongoUri };
  const pinning = cpuPinning();
  const ratios: number[] = [];
  /** Each pair's server CPU time (µs) and tokens issued, summed over its rounds. */
  const pairs: Array<Record<'cpu' | 'issued', Record<Target['name'], number>>> = [];
  for (let pair = 0; pair < PAIRS; pair += 1) {
    const targets: Target[] = [];
    const measured = { cpu: { ours: 0, bare: 0 }, issued: { ours: 0, bare: 0 } };
    pairs.push(measured);
    let restoreAffinity: (() => void) | undefined;
    try {
      targets.push(await launch('ours', 'src/main.ts', { ...common, LOG_LEVEL: 'info', METRICS_PORT: '0' }, pinning));
      targets.push(await launch('bare', 'bench/bare-provider.ts', common, pinning));
      restoreAffinity = pinning?.pinGenerator();
      for (const target of targets) await load(target.port, WARMUP_SECONDS);
      for (let round = 0; round < ROUNDS; round += 1) {
        const issued = { ours: 0, bare: 0 };
        for (const target of round % 2 === 0 ? targets : [...targets].reverse()) {
          const before = await cpuMicros(target.child.pid!);
          issued[target.name] = await load(target.port, SECONDS);
          measured.cpu[target.name] += (await cpuMicros(target.child.pid!)) - before;
          measured.issued[target.name] += issued[target.name];
        }
        ratios.push(issued.ours / issued.bare);
      }
    } finally {
      restoreAffinity?.();
      for (const target of targets) target.child.kill('SIGTERM');
    }
  }
  const total = (part: 'cpu' | 'issued', name: Target['name']) => pairs.reduce((sum, pair) => sum + pair[part][name], 0);
  const cpuPerToken = (name: Target['name']) => total('cpu', name) / total('issued', name);
  const perSecond = (name: Target['name']) => total('issued', name) / (PAIRS * ROUNDS * SECONDS);
  return {
    ours: perSecond('ours'), bare: perSecond('bare'),
    ratio: percentile(ratios, 50), spread: [Math.min(...ratios), Math.max(...ratios)],
    ...(Number.isNaN(total('cpu', 'ours')) ? {} : {
      cpu: {
        ours: cpuPerToken('ours'), bare: cpuPerToken('bare'),
        perPair: pairs.map(({ cpu, issued }) => cpu.ours / issued.ours - cpu.bare / issued.bare),
      },
    }),
    pinned: pinning !== undefined,
    pairs: PAIRS,
  };
}

interface Pinning {
  /** The command prefix that runs a server on its CPU. */
  serverPrefix: string[];
  /** Moves this process (every thread) to the generator's CPU; returns the undo. */
  pinGenerator(): () => void;
}

/** CPU 1 for the servers, CPU 0 for this load generator, where there are two CPUs and taskset. */
function cpuPinning(): Pinning | undefined {
  if (availableParallelism() < 2) return undefined;
  let previous: string;
  try {
    previous = execFileSync('taskset', ['-p', '-c', String(process.pid)], { encoding: 'utf8' }).trim().split(' ').at(-1)!;
  } catch {
    return undefined; // no taskset (util-linux) here: unpinned, as docs/benchmarks.md says
  }
  const setAffinity = (cpus: string) => execFileSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
  return {
    serverPrefix: ['taskset', '-c', '1'],
    pinGenerator() {
      setAffinity('0');
      return () => setAffinity(previous);
    },
  };
}

/** User + system CPU time of a process so far, µs (NaN where /proc is absent). */
async function cpuMicros(pid: number): Promise<number> {
  return (await processCpuSeconds(pid).catch(() => Number.NaN)) * 1e6;
}

/** Starts a server process; its stdout (our request log) goes to /dev/null, as a log shipper would take it. */
async function launch(name: Target['name'], script: string, env: Record<string, string>, pinning: Pinning | undefined): Promise<Target> {
  const port = await freePort();
  const sink = await open('/dev/null', 'w');
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-name=${name}.cpuprofile`] : [];
  const [command, ...args] = [...(pinning?.serverPrefix ?? []), process.execPath, ...profile, '--import', 'tsx', script];
  const child = spawn(command!, args, {
    cwd: repoRoot, env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', sink.fd, 'inherit'],
  });
  child.once('exit', () => void sink.close());
  for (let tries = 0; tries < 240; tries += 1) {
    if (child.exitCode !== null) throw new Error(`${name} server exited before answering`);
    const up = await issue(port).then((status) => status === 200, () => false);
    if (up) return { name, port, child };
    await sleep(250);
  }
  throw new Error(`${name} server did not answer within a minute`);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
const body = 'grant_type=client_credentials&scope=admin';
const authorization = `Basic ${Buffer.from(`${defaults.development.adminClientId}:${defaults.development.adminClientSecret}`).toString('base64')}`;

/** One token request; resolves to the status once the whole response was read. */
function issue(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, path: '/token', method: 'POST', agent,
      headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', 'content-length': body.length },
    }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.end(body);
  });
}

/** CONCURRENCY loops for `seconds`; returns how many tokens were issued. Any failure aborts. */
async function load(port: number, seconds: number): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let issued = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < deadline) {
      const status = await issue(port);
      if (status !== 200) throw new Error(`token request answered ${status}`);
      issued += 1;
    }
  }));
  return issued;
}
