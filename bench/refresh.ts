/**
 * What one sign-in and one refresh_token grant cost in MongoDB: the real server in this
 * process (so the driver's command monitoring sees its traffic), a user signed in over
 * HTTP, then refreshes with resource=API_AUDIENCE (a JWT access token).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import * as client from 'openid-client';

import { loadKeySources } from '../src/config/keys.js';
import { loadSettings } from '../src/config/settings.js';
import { freePort } from '../src/db/embedded.js';
import { createServer } from '../src/server.js';
import { codeFlow, createUser, registerClient } from '../test/support/relying-party.js';
import { CommandCounter } from './commands.js';
import { mb, type Section } from './report.js';
import { percentile } from './stats.js';

/** The budget a refresh must stay within (docs/refresh-tokens.md). */
const BUDGET = { commands: 6, writes: 2 };
const LATENCY_SAMPLES = Number(process.env.BENCH_REFRESHES ?? 200);
/** Long enough for the write that follows a refresh's answer (its delivery record). */
const SETTLE_MS = 100;

export async function measureRefresh(mongoUri: string): Promise<Section> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'oidc-bench-'));
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const settings = loadSettings({
    NODE_ENV: 'test', PASSWORD_ARGON2_MEMORY_KIB: '1024', PASSWORD_ARGON2_ITERATIONS: '1', DATA_DIR: dataDir, MONGODB_URI: mongoUri, PORT: String(port), ISSUER: issuer,
  });
  // Our own connection with command monitoring; otherwise as src/db/connection.ts.
  const connection = mongoose.createConnection(mongoUri, { autoCreate: false, autoIndex: false, monitorCommands: true });
  await connection.asPromise();
  const counter = new CommandCounter(connection.getClient());

  const server = await createServer(settings, await loadKeySources(settings), connection);
  const http = server.app.listen(port, '127.0.0.1');
  await new Promise<void>((resolve) => http.once('listening', resolve));

  try {
    const user = await createUser(server);
    const rp = await registerClient({ store: server.store, issuer });
    const resource = { resource: settings.apiAudience };
    const { tokens } = await codeFlow(rp, {
      scope: 'openid offline_access api:read', params: { prompt: 'consent', ...resource }, login: user,
    });
    // A second sign-in of the same user through both pages: what each one costs in MongoDB.
    const signIn = await counter.during(async () => {
      await codeFlow(rp, { scope: 'openid', params: { prompt: 'login consent' }, login: user });
    });
    let refreshToken = tokens.refresh_token!;
    const refresh = async () => {
      const next = await client.refreshTokenGrant(rp.config, refreshToken, resource);
      if (next.access_token.split('.').length !== 3) throw new Error('expected a JWT access token');
      refreshToken = next.refresh_token!;
    };

    await refresh(); // warm-up: client cache, key import, JIT
    const perRefresh = [];
    // The new token is recorded as delivered just after the answer has left: wait for that
    // write too, it belongs to the refresh.
    const refreshSettled = async () => {
      await refresh();
      await sleep(SETTLE_MS);
    };
    for (let i = 0; i < 5; i += 1) perRefresh.push(await counter.during(refreshSettled));
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
    const worst = perRefresh.reduce((w, r) => Math.max(w, r.commands.length), 0);
    const worstWrites = perRefresh.reduce((w, r) => Math.max(w, r.writes), 0);
    return {
      lines: [
        `MongoDB commands per sign-in (login form, consent, code exchange): ${signIn.commands.length}, ${signIn.writes} writes`,
        `MongoDB commands per refresh_token grant (JWT access token, resource=${settings.apiAudience}):`,
        ...sample.commands.map((c) => `  ${c.write ? 'write' : 'read '}  ${c.name.padEnd(8)} ${c.collection}`),
        `  total ${sample.commands.length} commands, ${sample.writes} writes (budget ≤ ${BUDGET.commands}, ≤ ${BUDGET.writes}); over 5 refreshes: ${counts.join(', ')}`,
        `Refresh latency over ${LATENCY_SAMPLES} sequential refreshes: p50 ${percentile(latencies, 50).toFixed(1)} ms, p95 ${percentile(latencies, 95).toFixed(1)} ms`,
        `RSS of the bench process (server in-process): ${mb(rssBefore)} MB before, ${mb(rssAfter)} MB after the refreshes`,
      ],
      failures: worst > BUDGET.commands || worstWrites > BUDGET.writes
        ? [`refresh over budget: ${worst} commands, ${worstWrites} writes`] : [],
    };
  } finally {
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
    server.keyRing.stop();
    await connection.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
