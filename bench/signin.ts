/**
 * Sign-in throughput: concurrent clients each run complete sign-ins through the real pages
 * (authorization request → login page → POST credentials → consent page → POST consent →
 * code → token exchange with PKCE, ID token verified) against a production server process,
 * whose peak RSS is read from the kernel. Counted in steady state: the clients run for a
 * ramp-up first, then for the measured window, and only sign-ins that end inside the
 * window count (100 clients starting at once take a few seconds to fill the pipeline; a
 * window that began with them measured the ramp, not the server).
 */
import { availableParallelism } from 'node:os';

import { codeFlow, type Credentials, type RegisteredClient } from '../test/support/relying-party.js';
import { UserAgent } from '../test/support/user-agent.js';
import { adminToken, createUsers, registerApp } from './fixtures.js';
import { mb, type Section } from './report.js';
import { processCpuSeconds, startProductionServer, type ProductionSecrets, type ServerCpu } from './production-server.js';
import { percentile } from './stats.js';

/** 20 sign-ins/s per core (40 on the 2-core reference machine, load generator included), against Keycloak's 15. */
const TARGET = { perCore: 20, peakRssMb: 300 };
const CLIENTS = Number(process.env.BENCH_SIGNIN_CLIENTS ?? 100);
/** Load before the window opens: long enough for every client to be past its first sign-in. */
const RAMP_UP_SECONDS = Number(process.env.BENCH_SIGNIN_RAMP_UP ?? 4);
/** The measured window. Short on purpose: a few hundred sign-ins keep the embedded database small. */
const SECONDS = Number(process.env.BENCH_SIGNIN_SECONDS ?? 8);
/** A small pool: the login throttle counts failures only, so users may sign in in parallel. */
const USERS = 10;
const WARM_UP = 3;
/** A person shed this many times in a row gives up: that sign-in counts as failed. */
const MAX_SHEDS_PER_SIGN_IN = 20;

/** CPU time of the processes that share the machine during the window, in seconds. */
interface CpuReading { server: ServerCpu; generator: number; mongo: number }

export async function measureSignIns(mongoUri: string, secrets: ProductionSecrets, mongoPid?: number): Promise<Section> {
  const server = await startProductionServer(mongoUri, secrets);
  try {
    const token = await adminToken(server.issuer, secrets.admin);
    const app = await registerApp(server.issuer, token);
    const users = await createUsers(server.issuer, token, USERS);
    for (let i = 0; i < WARM_UP; i += 1) await signIn(app, users[i % USERS]!);

    const readCpu = async (): Promise<CpuReading> => {
      const usage = process.cpuUsage();
      return {
        server: await server.cpu(),
        generator: (usage.user + usage.system) / 1e6,
        mongo: mongoPid ? await processCpuSeconds(mongoPid) : Number.NaN,
      };
    };
    const load = await drive(app, users, readCpu);
    const { peak } = await server.memory();
    const { completed } = load;
    // CPU per sign-in that ended in the window: sheds and sign-ins still in flight at its
    // edges are part of what a sign-in costs under this load.
    const perSignIn = (seconds: number) => (seconds * 1000) / completed;
    const serverCpuMs = (part: keyof ServerCpu) => perSignIn(load.cpu.server[part]);
    const rate = completed / SECONDS;
    const cores = availableParallelism();
    const failures = [];
    if (rate / cores < TARGET.perCore) {
      failures.push(`${(rate / cores).toFixed(1)} sign-ins/s per core (target ≥ ${TARGET.perCore}, ${TARGET.perCore * 2}/s on 2 cores)`);
    }
    if (peak > TARGET.peakRssMb * 1024 * 1024) failures.push(`server peak RSS ${mb(peak)} MB (target ≤ ${TARGET.peakRssMb} MB)`);
    if (load.failed > 0) failures.push(`${load.failed} sign-ins failed, last: ${load.lastError}`);
    const total = serverCpuMs('total') + perSignIn(load.cpu.generator) + (Number.isNaN(load.cpu.mongo) ? 0 : perSignIn(load.cpu.mongo));
    return {
      lines: [
        `Sign-ins (login form + consent + code exchange), ${CLIENTS} concurrent clients, ${RAMP_UP_SECONDS} s ramp-up then ${SECONDS} s measured, ` +
          `${cores} cores, load generator on the same machine:`,
        `  ${completed} completed in the window: ${rate.toFixed(1)}/s, ${(rate / cores).toFixed(1)}/s per core (target ≥ ${TARGET.perCore} per core)`,
        `  latency p50 ${percentile(load.latencies, 50).toFixed(0)} ms, p95 ${percentile(load.latencies, 95).toFixed(0)} ms ` +
          `(sheds waited out included); ${load.failed} failed`,
        `  ${load.sheds} sheds in the window: login form again with 503 + Retry-After (hashing at capacity), waited out and submitted again`,
        `  CPU per sign-in: server ${serverCpuMs('total').toFixed(1)} ms (event loop ${serverCpuMs('main').toFixed(1)}, ` +
          `password hashing threads ${serverCpuMs('threadPool').toFixed(1)}), load generator ${perSignIn(load.cpu.generator).toFixed(1)} ms, ` +
          `MongoDB ${Number.isNaN(load.cpu.mongo) ? 'not measured (external)' : `${perSignIn(load.cpu.mongo).toFixed(1)} ms`}: ` +
          `${total.toFixed(0)} ms in all, at most ${((1000 * cores) / total).toFixed(0)} sign-ins/s on ${cores} cores`,
        `  server peak RSS ${mb(peak)} MB (target ≤ ${TARGET.peakRssMb} MB)`,
      ],
      failures,
    };
  } finally {
    await server.stop();
  }
}

interface Load {
  completed: number;
  failed: number;
  sheds: number;
  lastError: string;
  latencies: number[];
  /** CPU used during the window. */
  cpu: CpuReading;
}

/**
 * Each client signs in again as soon as it finishes until the window closes. Sign-ins that
 * end inside the window count (their latency too); the ramp-up before it and the sign-ins
 * still in flight after it do not.
 */
async function drive(app: RegisteredClient, users: Credentials[], readCpu: () => Promise<CpuReading>): Promise<Load> {
  const tally = { completed: 0, failed: 0, sheds: 0, lastError: '', latencies: [] as number[] };
  const opens = performance.now() + RAMP_UP_SECONDS * 1000;
  const closes = opens + SECONDS * 1000;
  const inWindow = (t: number) => t >= opens && t < closes;
  const until = (t: number) => new Promise((resolve) => setTimeout(resolve, t - performance.now()));
  const cpuInWindow = (async (): Promise<CpuReading> => {
    await until(opens);
    const before = await readCpu();
    await until(closes);
    const after = await readCpu();
    const server = { ...after.server };
    for (const part of Object.keys(server) as (keyof ServerCpu)[]) server[part] -= before.server[part];
    return { server, generator: after.generator - before.generator, mongo: after.mongo - before.mongo };
  })();
  const clientLoop = async (id: number) => {
    for (let n = 0; performance.now() < closes; n += 1) {
      const start = performance.now();
      let sheds = 0;
      const waitWhenShed = async (seconds: number) => {
        if (inWindow(performance.now())) tally.sheds += 1;
        sheds += 1;
        if (sheds > MAX_SHEDS_PER_SIGN_IN) throw new Error(`shed ${MAX_SHEDS_PER_SIGN_IN} times in a row`);
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      };
      try {
        await signIn(app, users[(id + n) % users.length]!, id, waitWhenShed);
      } catch (err) {
        tally.failed += 1;
        tally.lastError = err instanceof Error ? err.message.slice(0, 200) : String(err);
        continue;
      }
      const end = performance.now();
      if (!inWindow(end)) continue;
      tally.completed += 1;
      tally.latencies.push(end - start);
    }
  };
  const [cpu] = await Promise.all([cpuInWindow, ...Array.from({ length: CLIENTS }, (_, id) => clientLoop(id))]);
  return { ...tally, cpu };
}

/** A fresh browser (no cookies): prompt=login consent makes both pages appear every time.
 * Each virtual client is a user on a network of its own (the server trusts one proxy hop)
 * who, when told the server is busy (503 + Retry-After), waits that long and submits again. */
async function signIn(
  app: RegisteredClient, user: Credentials, client = 0, waitWhenShed?: (seconds: number) => Promise<void>,
): Promise<void> {
  const agent = new UserAgent({ 'x-forwarded-for': `198.18.${client >> 8}.${client & 255}` }, { waitWhenShed });
  await codeFlow(app, { scope: 'openid profile', params: { prompt: 'login consent' }, login: user, agent });
}
