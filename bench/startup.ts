/**
 * How fast a production instance becomes ready against an external MongoDB, and what it
 * weighs idle: the figures an orchestrator's readiness probe and memory limit depend on.
 */
import { mb, type Section } from './report.js';
import { startProductionServer, type ProductionSecrets } from './production-server.js';

const TARGET = { readyMs: 2_000, idleRssMb: 120 };
const RUNS = 3;
/** Long enough for start-up work (index checks, first connections) to have settled. */
const IDLE_AFTER_MS = 2_000;

export async function measureStartup(mongoUri: string, secrets: ProductionSecrets): Promise<Section> {
  const ready: number[] = [];
  const idle: number[] = [];
  // The first start on an empty database also creates the indexes; later ones find them.
  for (let run = 0; run < RUNS; run += 1) {
    const server = await startProductionServer(mongoUri, secrets);
    try {
      ready.push(server.readyMs);
      await new Promise((resolve) => setTimeout(resolve, IDLE_AFTER_MS));
      idle.push((await server.memory()).rss);
    } finally {
      await server.stop();
    }
  }
  const slowest = Math.max(...ready);
  const heaviest = Math.max(...idle);
  const failures = [];
  if (slowest > TARGET.readyMs) failures.push(`ready after ${slowest.toFixed(0)} ms (target ≤ ${TARGET.readyMs} ms)`);
  if (heaviest > TARGET.idleRssMb * 1024 * 1024) failures.push(`idle RSS ${mb(heaviest)} MB (target ≤ ${TARGET.idleRssMb} MB)`);
  return {
    lines: [
      `Start to /health/ready = 200 (the image's CMD, NODE_ENV=production, external MongoDB), ${RUNS} starts: ` +
        `${ready.map((ms) => ms.toFixed(0)).join(', ')} ms (target ≤ ${TARGET.readyMs} ms; the first creates the indexes)`,
      `Idle RSS ${IDLE_AFTER_MS / 1000} s after ready: ${idle.map(mb).join(', ')} MB (target ≤ ${TARGET.idleRssMb} MB)`,
    ],
    failures,
  };
}
