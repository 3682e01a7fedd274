/**
 * Sign-in throughput: concurrent clients each run complete sign-ins through the real pages
 * for a fixed time (authorization request → login page → POST credentials → consent page →
 * POST consent → code → token exchange with PKCE, ID token verified) against a production
 * server process, whose peak RSS is read from the kernel.
 */
import { availableParallelism } from 'node:os';

import { codeFlow, type Credentials, type RegisteredClient } from '../test/support/relying-party.js';
import { UserAgent } from '../test/support/user-agent.js';
import { adminToken, createUsers, registerApp } from './fixtures.js';
import { mb, type Section } from './report.js';
import { startProductionServer, type ProductionSecrets, type ServerCpu } from './production-server.js';
import { percentile } from './stats.js';

/** 20 sign-ins/s per core (40 on the 2-core reference machine, load generator included), against Keycloak's 15. */
const TARGET = { perCore: 20, peakRssMb: 300 };
const CLIENTS = Number(process.env.BENCH_SIGNIN_CLIENTS ?? 100);
/** Short on purpose: a few hundred sign-ins keep the embedded database small. */
const SECONDS = Number(process.env.BENCH_SIGNIN_SECONDS ?? 8);
/** A small pool: the login throttle counts failures only, so users may sign in in parallel. */
const USERS = 10;
const WARM_UP = 3;
/** A person shed this many times in a row gives up: that sign-in counts as failed. */
const MAX_SHEDS_PER_SIGN_IN = 20;

export async function measureSignIns(mongoUri: string, secrets: ProductionSecrets): Promise<Section> {
  const server = await startProductionServer(mongoUri, secrets);
  try {
    const token = await adminToken(server.issuer, secrets.admin);
    const app = await registerApp(server.issuer, token);
    const users = await createUsers(server.issuer, token, USERS);
    for (let i = 0; i < WARM_UP; i += 1) await signIn(app, users[i % USERS]!);

    const serverCpuBefore = await server.cpu();
    const generatorCpuBefore = process.cpuUsage();
    const load = await drive(app, users);
    const { peak } = await server.memory();
    // CPU per sign-in holds on a busy machine where the wall-clock rate does not. Sheds
    // are part of what a sign-in costs under this load; a failed one has usually paid for
    // its password check too.
    const attempts = load.latencies.length + load.failed;
    const serverCpuAfter = await server.cpu();
    const serverCpuMs = (part: keyof ServerCpu) => (serverCpuAfter[part] - serverCpuBefore[part]) * 1000 / attempts;
    const generatorCpu = process.cpuUsage(generatorCpuBefore);
    const generatorCpuMs = (generatorCpu.user + generatorCpu.system) / 1000 / attempts;
    const rate = load.completed / SECONDS;
    const cores = availableParallelism();
    const failures = [];
    if (rate / cores < TARGET.perCore) {
      failures.push(`${(rate / cores).toFixed(1)} sign-ins/s per core (target ≥ ${TARGET.perCore}, ${TARGET.perCore * 2}/s on 2 cores)`);
    }
    if (peak > TARGET.peakRssMb * 1024 * 1024) failures.push(`server peak RSS ${mb(peak)} MB (target ≤ ${TARGET.peakRssMb} MB)`);
    if (load.failed > 0) failures.push(`${load.failed} sign-ins failed, last: ${load.lastError}`);
    return {
      lines: [
        `Sign-ins (login form + consent + code exchange), ${CLIENTS} concurrent clients for ${SECONDS} s, ${cores} cores, load generator on the same machine:`,
        `  ${load.completed} completed: ${rate.toFixed(1)}/s, ${(rate / cores).toFixed(1)}/s per core (target ≥ ${TARGET.perCore} per core)`,
        `  latency p50 ${percentile(load.latencies, 50).toFixed(0)} ms, p95 ${percentile(load.latencies, 95).toFixed(0)} ms ` +
          `(sheds waited out included); ${load.failed} failed`,
        `  ${load.sheds} sheds: login form again with 503 + Retry-After (hashing at capacity), waited out and submitted again`,
        `  CPU per sign-in: server ${serverCpuMs('total').toFixed(1)} ms (event loop ${serverCpuMs('main').toFixed(1)}, ` +
          `password hashing threads ${serverCpuMs('threadPool').toFixed(1)}), load generator ${generatorCpuMs.toFixed(1)} ms ` +
          `(MongoDB not counted): at most ${(1000 / serverCpuMs('total')).toFixed(0)} sign-ins/s per core for the server alone`,
        `  server peak RSS ${mb(peak)} MB (target ≤ ${TARGET.peakRssMb} MB)`,
      ],
      failures,
    };
  } finally {
    await server.stop();
  }
}

interface Load { completed: number; failed: number; sheds: number; lastError: string; latencies: number[] }

/** Each client signs in again as soon as it finishes, until the time is up; sign-ins still
 * in flight then finish (their latency counts) but not toward the rate. */
async function drive(app: RegisteredClient, users: Credentials[]): Promise<Load> {
  const load: Load = { completed: 0, failed: 0, sheds: 0, lastError: '', latencies: [] };
  const deadline = performance.now() + SECONDS * 1000;
  const clientLoop = async (id: number) => {
    for (let n = 0; performance.now() < deadline; n += 1) {
      const start = performance.now();
      let sheds = 0;
      const waitWhenShed = async (seconds: number) => {
        load.sheds += 1;
        sheds += 1;
        if (sheds > MAX_SHEDS_PER_SIGN_IN) throw new Error(`shed ${MAX_SHEDS_PER_SIGN_IN} times in a row`);
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      };
      try {
        await signIn(app, users[(id + n) % users.length]!, id, waitWhenShed);
      } catch (err) {
        load.failed += 1;
        load.lastError = err instanceof Error ? err.message.slice(0, 200) : String(err);
        continue;
      }
      const end = performance.now();
      load.latencies.push(end - start);
      if (end <= deadline) load.completed += 1;
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, id) => clientLoop(id)));
  return load;
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
