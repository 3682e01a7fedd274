/**
 * Soak: two production instances behind one issuer on one database, the database behind a
 * TCP proxy that holds a share of the messages it forwards past the request's deadline. Refresh
 * chains rotate against either instance, users sign in through the forms and an
 * administrator revokes users, for a fixed time. What it counts is what a client lives with:
 * chains lost (a chain's own token refused with invalid_grant, though nobody else held it),
 * reuse reported, and the 503s and how long they took to come. Loopback only.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import mongoose from 'mongoose';

import { defaults } from '../config/defaults.js';
import { codeFlow, type Credentials, type RegisteredClient } from '../test/support/relying-party.js';
import { TcpProxy } from '../test/support/tcp-proxy.js';
import { UserAgent } from '../test/support/user-agent.js';
import { adminToken, createUsers, registerApp } from './fixtures.js';
import { startProductionServer, type ProductionSecrets, type ProductionServer } from './production-server.js';
import type { Section } from './report.js';
import { percentile } from './stats.js';

export interface SoakOptions {
  seconds: number;
  chains: number;
  /** Share of the messages between server and database that the proxy holds back, and for how long. */
  slowShare: number;
  slowMs: number;
}

export function soakOptions(env: NodeJS.ProcessEnv = process.env): SoakOptions {
  return {
    seconds: Number(env.BENCH_SOAK_SECONDS ?? 90),
    chains: Number(env.BENCH_SOAK_CHAINS ?? 20),
    slowShare: Number(env.BENCH_SOAK_SLOW_SHARE ?? 0.02),
    slowMs: Number(env.BENCH_SOAK_SLOW_MS ?? 1_200),
  };
}

const PAUSE = { refreshMs: 500, retryMs: 1_000, signInEveryMs: 5_000, revokeEveryMs: 15_000 };
/** No request may hold the soak up: a reply later than this counts as an error. */
const REQUEST_TIMEOUT_MS = 15_000;
/** Past its time by this much, the soak is cut short: it stops by itself whatever the servers do. */
const OVERRUN_MS = 60_000;

interface Tally {
  refreshes: number;
  unavailableMs: number[];
  otherErrors: Map<string, number>;
  lostChains: number;
  signIns: number;
  signInsFailed: number;
  revokes: number;
  revokedStillRefreshed: number;
}

interface Soak {
  rp: RegisteredClient;
  servers: ProductionServer[];
  admin: () => Promise<string>;
  endsAt: number;
  tally: Tally;
}

export async function measureSoak(mongoUri: string, secrets: ProductionSecrets, options = soakOptions()): Promise<Section> {
  const host = new URL(mongoUri).hostname;
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(host)) {
    return { lines: [`Soak skipped: it only runs against a database on loopback (MONGODB_URI host is ${host})`], failures: [] };
  }
  const began = performance.now();
  const proxy = await TcpProxy.start(mongoUri);
  const servers: ProductionServer[] = [];
  try {
    servers.push(await startProductionServer(proxy.rewrite(mongoUri), secrets));
    servers.push(await startProductionServer(proxy.rewrite(mongoUri), secrets, { issuer: servers[0]!.issuer }));
    const { issuer } = servers[0]!;
    let token = await adminToken(issuer, secrets.admin);
    const rp = await registerApp(issuer, token, ['authorization_code', 'refresh_token']);
    const users = await createUsers(issuer, token, options.chains + 4);
    const tally: Tally = {
      refreshes: 0, unavailableMs: [], otherErrors: new Map(), lostChains: 0, signIns: 0, signInsFailed: 0, revokes: 0, revokedStillRefreshed: 0,
    };
    // The admin token lives ACCESS_TOKEN_TTL; fetched again when the soak outlives it.
    let tokenAt = Date.now();
    const admin = async () => {
      if (Date.now() - tokenAt > (defaults.ttl.accessToken * 1000) / 2) [token, tokenAt] = [await adminToken(issuer, secrets.admin), Date.now()];
      return token;
    };
    const soak: Soak = { rp, servers, admin, endsAt: Date.now() + options.seconds * 1000, tally };
    // Every chain starts on a healthy database; from then on the proxy holds replies back.
    const tokens = await Promise.all(users.slice(0, options.chains).map((user) => signIn(soak, user)));
    proxy.slowShare = options.slowShare;
    proxy.slowMs = options.slowMs;
    await proxy.set('slow');
    soak.endsAt = Date.now() + options.seconds * 1000;
    const work = Promise.all([
      ...tokens.map((first, i) => chain(soak, users[i]!, first)),
      signInsNow(soak, users.slice(0, options.chains)),
      revokesNow(soak, users.slice(options.chains)),
    ]);
    await Promise.race([work, sleep(options.seconds * 1000 + OVERRUN_MS, undefined, { ref: false }).then(() => {
      throw new Error(`soak still running ${OVERRUN_MS / 1000} s after its time`);
    })]);
    await proxy.set('forward');
    const reuse = await countEvents(mongoUri, ['refresh_token.reuse_detected', 'refresh_token.family_revoked']);
    return report(options, tally, reuse, (performance.now() - began) / 1000);
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    await proxy.close();
  }
}

type TokenAnswer = { status: number; error?: string; refreshToken?: string; ms: number };

/** One refresh at one instance; a transport failure or timeout is an answer too (status 0). */
async function refreshAt(server: ProductionServer, rp: RegisteredClient, refreshToken: string): Promise<TokenAnswer> {
  const started = performance.now();
  try {
    const res = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${rp.clientId}:${rp.clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const body = await res.json().catch(() => ({})) as { error?: string; refresh_token?: string };
    return { status: res.status, error: body.error, refreshToken: body.refresh_token, ms: performance.now() - started };
  } catch (err) {
    return { status: 0, error: err instanceof Error ? err.name : String(err), ms: performance.now() - started };
  }
}

const anyOf = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const running = (soak: Soak) => Date.now() < soak.endsAt;

/** Refreshes until the soak ends; a 503 or a failure is retried with the same token, as a client does. */
async function chain(soak: Soak, user: Credentials, first: string | undefined): Promise<void> {
  let token = first;
  while (running(soak) && token) {
    const answer = await refreshAt(anyOf(soak.servers), soak.rp, token);
    if (answer.status === 200 && answer.refreshToken) {
      soak.tally.refreshes += 1;
      token = answer.refreshToken;
      await sleep(PAUSE.refreshMs);
    } else if (answer.error === 'invalid_grant') {
      soak.tally.lostChains += 1;
      token = await signIn(soak, user);
    } else {
      if (answer.status === 503) soak.tally.unavailableMs.push(answer.ms);
      else countError(soak.tally, `${answer.status} ${answer.error ?? ''}`.trim());
      await sleep(PAUSE.retryMs);
    }
  }
}

function countError(tally: Tally, key: string): void {
  tally.otherErrors.set(key, (tally.otherErrors.get(key) ?? 0) + 1);
}

/** A sign-in through the login and consent pages with offline_access, tried again until it
 * succeeds or the soak ends. Each user signs in from a network of their own. */
async function signIn(soak: Soak, user: Credentials): Promise<string | undefined> {
  while (running(soak)) {
    const agent = new UserAgent({ 'x-forwarded-for': `198.18.0.${soak.tally.signIns % 250}` });
    try {
      const { tokens } = await codeFlow(soak.rp, { scope: 'openid offline_access', params: { prompt: 'consent' }, login: user, agent });
      soak.tally.signIns += 1;
      if (tokens.refresh_token) return tokens.refresh_token;
    } catch {
      // Counted, then tried again: under a slow database a page may answer 503.
      soak.tally.signInsFailed += 1;
      await sleep(PAUSE.retryMs);
    }
  }
  return undefined;
}

async function signInsNow(soak: Soak, users: Credentials[]): Promise<void> {
  while (running(soak)) {
    await sleep(PAUSE.signInEveryMs);
    await signIn(soak, anyOf(users));
  }
}

/** Now and then a user is signed in, revoked by an administrator (retried on 503, as the
 * docs allow), and their refresh token tried again: it must be refused. */
async function revokesNow(soak: Soak, users: (Credentials & { id: string })[]): Promise<void> {
  for (let n = 0; running(soak); n += 1) {
    await sleep(PAUSE.revokeEveryMs);
    const user = users[n % users.length]!;
    const token = await signIn(soak, user);
    if (!token || !(await revoke(soak, user.id))) continue;
    soak.tally.revokes += 1;
    for (;;) {
      const answer = await refreshAt(anyOf(soak.servers), soak.rp, token);
      if (answer.status === 200) soak.tally.revokedStillRefreshed += 1;
      if (answer.status !== 503 && answer.status !== 0) break;
      await sleep(PAUSE.retryMs);
    }
  }
}

async function revoke(soak: Soak, userId: string): Promise<boolean> {
  while (running(soak)) {
    const res = await fetch(`${anyOf(soak.servers).url}/admin/users/${userId}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await soak.admin()}`, 'content-type': 'application/json' },
      body: '{}',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    }).catch(() => undefined);
    await res?.body?.cancel();
    if (res?.status === 200) return true;
    countError(soak.tally, `admin revoke ${res?.status ?? 'no answer'}`);
    await sleep(PAUSE.retryMs);
  }
  return false;
}

/** Read straight from the database (not through the proxy), once the soak is over. */
async function countEvents(mongoUri: string, types: string[]): Promise<Record<string, number>> {
  const connection = await mongoose.createConnection(mongoUri).asPromise();
  try {
    const counts: Record<string, number> = {};
    for (const type of types) counts[type] = await connection.collection('events').countDocuments({ type });
    return counts;
  } finally {
    await connection.close();
  }
}

function report(options: SoakOptions, tally: Tally, events: Record<string, number>, tookSeconds: number): Section {
  const unavailable = tally.unavailableMs;
  const others = [...tally.otherErrors].map(([key, n]) => `${n}× ${key}`).join(', ') || 'none';
  const failures = [];
  if (tally.lostChains > 0) failures.push(`soak: ${tally.lostChains} refresh chains lost (target 0)`);
  if (tally.revokedStillRefreshed > 0) failures.push(`soak: ${tally.revokedStillRefreshed} refresh tokens still refreshed after their user was revoked`);
  return {
    lines: [
      `Soak: 2 production instances, one issuer, one database behind a proxy holding ${(options.slowShare * 100).toFixed(1)} % of the messages ` +
        `${options.slowMs} ms (database budget ${defaults.operations.requestDeadlineMs} ms per request), ${options.seconds} s, ${options.chains} refresh chains, ` +
        `a sign-in every ${PAUSE.signInEveryMs / 1000} s, an admin revoke every ${PAUSE.revokeEveryMs / 1000} s:`,
      `  refreshes: ${tally.refreshes} answered 200 (${(tally.refreshes / options.seconds).toFixed(1)}/s); ` +
        `${unavailable.length} answered 503 (latency p50 ${percentile(unavailable, 50).toFixed(0)} ms, p99 ${percentile(unavailable, 99).toFixed(0)} ms); other errors: ${others}`,
      `  lost chains: ${tally.lostChains} (own token refused with invalid_grant, nobody else held it; target 0)`,
      `  reuse reported: ${events['refresh_token.reuse_detected'] ?? 0} reuse_detected events, ${events['refresh_token.family_revoked'] ?? 0} family_revoked`,
      `  sign-ins: ${tally.signIns} (${tally.signInsFailed} attempts failed and were tried again); admin revokes: ${tally.revokes}, ` +
        `revoked tokens that still refreshed: ${tally.revokedStillRefreshed} (target 0)`,
      `  took ${tookSeconds.toFixed(0)} s in all (two starts, sign-ins, the soak, shutdown)`,
    ],
    failures,
  };
}
