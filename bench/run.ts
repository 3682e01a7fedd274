/**
 * `npm run bench`: what one refresh_token grant costs. Starts its own MongoDB (MONGODB_URI,
 * else mongodb-memory-server, else the jongodb emulator) and the real server in this
 * process, signs a user in over HTTP, then refreshes with resource=API_AUDIENCE (a JWT
 * access token) while counting the MongoDB commands the server sends per refresh; then
 * times one password check at the production scrypt cost.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import * as client from 'openid-client';

import { loadKeyMaterial } from '../src/config/keys.js';
import { loadSettings } from '../src/config/settings.js';
import { freePort, startMongo } from '../src/db/embedded.js';
import { createServer } from '../src/server.js';
import { codeFlow, createUser, registerClient } from '../test/support/relying-party.js';
import { CommandCounter } from './commands.js';
import { measurePasswordHashing } from './password.js';
import { measureThroughput, MIN_RATIO } from './throughput.js';
import { percentile } from './stats.js';

/** The budget a refresh must stay within (README, "Refresh tokens"). */
const BUDGET = { commands: 6, writes: 2 };
const LATENCY_SAMPLES = Number(process.env.BENCH_REFRESHES ?? 200);

async function main(): Promise<void> {
  const mongo = await startMongo(process.env.MONGODB_URI, { dbName: `oidc_bench_${Date.now()}`, log: (msg) => console.log(msg) });
  const dataDir = await mkdtemp(path.join(tmpdir(), 'oidc-bench-'));
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const settings = loadSettings({
    NODE_ENV: 'test', SCRYPT_N: String(2 ** 14), DATA_DIR: dataDir, MONGODB_URI: mongo.uri, PORT: String(port), ISSUER: issuer,
  });
  // Our own connection with command monitoring; otherwise as src/db/connection.ts.
  const connection = mongoose.createConnection(mongo.uri, { autoCreate: false, autoIndex: false, monitorCommands: true });
  await connection.asPromise();
  const counter = new CommandCounter(connection.getClient());

  const keys = await loadKeyMaterial(settings);
  const server = await createServer(settings, keys, connection);
  const http = server.app.listen(port, '127.0.0.1');
  await new Promise<void>((resolve) => http.once('listening', resolve));

  try {
    const user = await createUser(server);
    const rp = await registerClient({ store: server.store, issuer });
    const resource = { resource: settings.apiAudience };
    const { tokens } = await codeFlow(rp, {
      scope: 'openid offline_access api:read', params: { prompt: 'consent', ...resource }, login: user,
    });
    let refreshToken = tokens.refresh_token!;
    const refresh = async () => {
      const next = await client.refreshTokenGrant(rp.config, refreshToken, resource);
      if (next.access_token.split('.').length !== 3) throw new Error('expected a JWT access token');
      refreshToken = next.refresh_token!;
    };

    await refresh(); // warm-up: client cache, key import, JIT
    const perRefresh = [];
    for (let i = 0; i < 5; i += 1) perRefresh.push(await counter.during(refresh));
    const counts = perRefresh.map((r) => r.commands.length);

    const rssBefore = process.memoryUsage().rss;
    const latencies: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i += 1) {
      const start = performance.now();
      await refresh();
      latencies.push(performance.now() - start);
    }
    const rssAfter = process.memoryUsage().rss;

    const sample = perRefresh[0]!;
    console.log(`\nMongoDB: ${mongo.kind}`);
    console.log(`MongoDB commands per refresh_token grant (JWT access token, resource=${settings.apiAudience}):`);
    for (const c of sample.commands) console.log(`  ${c.write ? 'write' : 'read '}  ${c.name.padEnd(8)} ${c.collection}`);
    console.log(`  total ${sample.commands.length} commands, ${sample.writes} writes (budget ≤ ${BUDGET.commands}, ≤ ${BUDGET.writes}); over 5 refreshes: ${counts.join(', ')}`);
    console.log(`Refresh latency over ${LATENCY_SAMPLES} sequential refreshes: p50 ${percentile(latencies, 50).toFixed(1)} ms, p95 ${percentile(latencies, 95).toFixed(1)} ms`);
    console.log(`RSS: ${mb(rssBefore)} MB before, ${mb(rssAfter)} MB after the refreshes`);
    console.log(await measurePasswordHashing());
    const throughput = await measureThroughput({ mongoUri: mongo.uri, dataDir });
    console.log(`client_credentials → JWT access token: ours ${throughput.ours.toFixed(0)} req/s, bare oidc-provider ${throughput.bare.toFixed(0)} req/s, ratio ${throughput.ratio.toFixed(3)} (must be ≥ ${MIN_RATIO})`);
    if (throughput.cpu) console.log(`  server CPU per token: ours ${throughput.cpu.ours.toFixed(0)} µs, bare ${throughput.cpu.bare.toFixed(0)} µs`);
    if (throughput.ratio < MIN_RATIO) {
      console.error(`INSTRUMENTATION TOO COSTLY: ratio ${throughput.ratio.toFixed(3)} < ${MIN_RATIO}`);
      process.exitCode = 1;
    }

    const worst = perRefresh.reduce((w, r) => Math.max(w, r.commands.length), 0);
    const worstWrites = perRefresh.reduce((w, r) => Math.max(w, r.writes), 0);
    if (worst > BUDGET.commands || worstWrites > BUDGET.writes) {
      console.error(`OVER BUDGET: ${worst} commands, ${worstWrites} writes`);
      process.exitCode = 1;
    }
  } finally {
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
    await connection.close();
    await mongo.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
