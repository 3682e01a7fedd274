/**
 * `npm run bench`: what sign-in, refresh and start-up cost, and a short soak under a slow
 * database. `npm run bench -- soak refresh` runs only the parts named (PARTS below). Starts its own MongoDB
 * (MONGODB_URI, else mongodb-memory-server, else the jongodb emulator); each part uses a
 * database of its own on it. Start-up, idle memory and sign-in throughput run the compiled
 * server as production does, in its own process; the refresh command count runs the server
 * in this process to watch its MongoDB traffic. Exits non-zero if any target is missed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { startMongo } from '../src/db/embedded.js';
import { measurePasswordHashing } from './password.js';
import { productionSecrets, type ProductionSecrets } from './production-server.js';
import { measureRefresh } from './refresh.js';
import { databaseUri, type Section } from './report.js';
import { measureSignIns } from './signin.js';
import { measureSoak } from './soak.js';
import { measureStartup } from './startup.js';
import { measureThroughput, MIN_RATIO } from './throughput.js';

type Part = (mongoUri: string, secrets: ProductionSecrets, mongoPid: number | undefined) => Promise<Section | string>;

const PARTS: Record<string, Part> = {
  startup: (uri, secrets) => measureStartup(uri, secrets),
  signin: (uri, secrets, pid) => measureSignIns(uri, secrets, pid),
  password: () => measurePasswordHashing(),
  refresh: (uri) => measureRefresh(uri),
  throughput: (uri) => instrumentationCost(uri),
  soak: (uri, secrets) => measureSoak(uri, secrets),
};

async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((name) => !Object.hasOwn(PARTS, name));
  if (unknown.length > 0) throw new Error(`unknown bench part ${unknown.join(', ')}; parts: ${Object.keys(PARTS).join(', ')}`);
  const parts = asked.length > 0 ? asked : Object.keys(PARTS);
  const mongo = await startMongo(process.env.MONGODB_URI, { dbName: 'oidc_bench', log: (msg) => console.log(msg) });
  const run = `oidc_bench_${Date.now()}`;
  const failures: string[] = [];
  const report = (section: Section | string) => {
    if (typeof section === 'string') return console.log(section);
    console.log(section.lines.join('\n'));
    failures.push(...section.failures);
  };
  try {
    console.log(`\nMongoDB: ${mongo.kind}`);
    const secrets = await productionSecrets();
    for (const name of parts) report(await PARTS[name]!(databaseUri(mongo.uri, `${run}_${name}`), secrets, mongo.pid));
  } finally {
    await mongo.stop();
  }
  if (failures.length > 0) {
    console.error(`\nTARGETS MISSED:\n${failures.map((f) => `  ${f}`).join('\n')}`);
    process.exitCode = 1;
  }
}

/** Our server (metrics and logs on) against bare oidc-provider on the hot path. */
async function instrumentationCost(mongoUri: string): Promise<Section> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'oidc-bench-'));
  try {
    const result = await measureThroughput({ mongoUri, dataDir });
    const lines = [
      `client_credentials → JWT access token: ours ${result.ours.toFixed(0)} req/s, bare oidc-provider ${result.bare.toFixed(0)} req/s, ratio ${result.ratio.toFixed(3)} ` +
        `(${result.pairs} pairs of processes; ` +
        `median of rounds, lowest ${result.spread[0].toFixed(3)}, highest ${result.spread[1].toFixed(3)}; target ≥ ${MIN_RATIO})` +
        (result.pinned ? '; servers on CPU 1, load generator on CPU 0' : '; unpinned'),
    ];
    if (result.cpu) {
      const perPair = result.cpu.perPair.map((delta) => `${delta >= 0 ? '+' : ''}${delta.toFixed(0)}`).join(', ');
      lines.push(`  server CPU per token: ours ${result.cpu.ours.toFixed(0)} µs, bare ${result.cpu.bare.toFixed(0)} µs; ours minus bare in each pair: ${perPair} µs`);
    }
    return { lines, failures: result.ratio < MIN_RATIO ? [`instrumentation too costly: ratio ${result.ratio.toFixed(3)} < ${MIN_RATIO}`] : [] };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
