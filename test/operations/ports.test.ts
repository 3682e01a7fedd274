import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { defaults } from '../../config/defaults.js';
import { SEEDED, startServerProcess, type ServerProcess } from '../support/process.js';
import { freePort, freshDatabaseUri } from '../support/server.js';

const started: ServerProcess[] = [];
let blocker: Server | undefined;
let shared: Record<string, string>;

/** Holds a port the way another program would; resolves false when something already holds it. */
async function hold(port: number): Promise<boolean> {
  const server = createServer();
  server.listen(port);
  // events.once rejects on 'error': a port someone else holds is the outcome false, not a throw.
  const outcome = await once(server, 'listening').then(() => true, () => false);
  if (outcome) blocker = server;
  return outcome;
}

const metricsPort = (instance: ServerProcess) => Number(/metrics on port (\d+)/.exec(instance.output())![1]);

/** Starts an instance expected to fail; resolves with the error that carries its exit code and output. */
function failedStart(env: Record<string, string>): Promise<string> {
  return startServerProcess({ env: { ...shared, ...env } }).then(
    () => { throw new Error('the server started on a port in use'); },
    (err: Error) => err.message,
  );
}

function expectRefused(failure: string, port: number, setting: string): void {
  expect(failure).toMatch(/exited \(code [1-9]\d*\) before ready/);
  expect(failure).toContain(`cannot start: port ${port} is already in use`);
  expect(failure).toContain(`set ${setting} to another port`);
  expect(failure).not.toMatch(/EADDRINUSE|\n\s+at /);
}

beforeAll(async () => {
  // Both instances share a database and a data directory (the development key-encryption key).
  shared = { MONGODB_URI: freshDatabaseUri('ports'), DATA_DIR: await mkdtemp(path.join(tmpdir(), 'oidc-ports-')) };
  // The default metrics port is taken, by this test or by whatever already holds it.
  await hold(defaults.operations.metricsPort);
});

afterAll(async () => {
  await Promise.all(started.map((instance) => instance.stop()));
  blocker?.close();
});

describe('two instances on one host', () => {
  it('both start and serve /health/ready when the second gets another PORT, each with metrics on a free port in development', async () => {
    // METRICS_PORT unset (empty): the development default, which another process holds.
    const first = await startServerProcess({ env: { ...shared, METRICS_PORT: '' }, ready: SEEDED });
    started.push(first);
    const second = await startServerProcess({ env: { ...shared, METRICS_PORT: '' }, ready: SEEDED });
    started.push(second);

    expect(second.port).not.toBe(first.port);
    for (const instance of [first, second]) {
      expect((await fetch(`${instance.issuer}/health/ready`)).status).toBe(200);
      expect(instance.output()).toContain(`metrics port ${defaults.operations.metricsPort} is in use, metrics on port ${metricsPort(instance)} instead`);
      const scrape = await fetch(`http://127.0.0.1:${metricsPort(instance)}/metrics`);
      expect(scrape.status).toBe(200);
      expect(await scrape.text()).toContain('http_request_duration_seconds');
    }
    expect(metricsPort(second)).not.toBe(metricsPort(first));
  }, 120_000);

  it('a third on a PORT in use stops with one line naming the port and PORT, no stack trace, and a failing exit code', async () => {
    const taken = started[0]!.port;
    expectRefused(await failedStart({ PORT: String(taken), METRICS_PORT: '0' }), taken, 'PORT');
  }, 60_000);

  it('an explicit METRICS_PORT in use stops the same way, naming METRICS_PORT', async () => {
    const taken = metricsPort(started[0]!);
    expectRefused(await failedStart({ PORT: String(await freePort()), METRICS_PORT: String(taken) }), taken, 'METRICS_PORT');
  }, 60_000);

  it('METRICS_PORT=0 runs without a metrics listener', async () => {
    const instance = await startServerProcess({ env: { ...shared, METRICS_PORT: '0' }, ready: SEEDED });
    started.push(instance);
    expect((await fetch(`${instance.issuer}/health/ready`)).status).toBe(200);
    expect(instance.output()).toContain('metrics off (METRICS_PORT=0)');
  }, 60_000);
});
