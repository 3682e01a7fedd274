import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import Koa from 'koa';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { errorBoundary } from '../../src/http/errors.js';
import { Metrics } from '../../src/observability/metrics.js';
import { nameRoute, requestObserver } from '../../src/observability/requests.js';

/**
 * The request line for an answer that went wrong: the operator's line carries the error at
 * level error, the client's answer carries neither message nor stack, and a good answer's
 * line has no error field at all. Real HTTP through the observer and the error boundary.
 */
const lines: Record<string, unknown>[] = [];
const logger = pino({ level: 'info', base: undefined }, { write: (line: string) => void lines.push(JSON.parse(line)) });
const metrics = new Metrics();
let server: Server;
let base: string;

beforeAll(async () => {
  const app = new Koa();
  app.use(requestObserver({ logger, metrics, trustProxy: false }));
  app.use(errorBoundary);
  app.use((ctx) => {
    nameRoute(ctx, ctx.path);
    if (ctx.path === '/broken') throw new Error('disk on fire');
    ctx.body = { ok: true };
  });
  server = app.listen(0);
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

function lineFor(requestId: string | null): Record<string, unknown> {
  const line = lines.find((l) => l.reqId === requestId);
  expect(line, `a line for ${requestId}`).toBeDefined();
  return line!;
}

describe('the request line', () => {
  it('logs a 500 at level error with the error, and tells the client nothing of it', async () => {
    const res = await fetch(`${base}/broken`);
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(body).not.toContain('disk on fire');
    expect(body).not.toMatch(/at .*\.ts:\d+/);
    const line = lineFor(res.headers.get('x-request-id'));
    expect(line).toMatchObject({ level: 50, msg: 'request', route: '/broken', status: 500, method: 'GET' });
    expect(line.err).toMatchObject({ message: 'disk on fire' });
  });

  it('logs a good answer at level info, with no error field', async () => {
    const res = await fetch(`${base}/fine`);
    expect(res.status).toBe(200);
    const line = lineFor(res.headers.get('x-request-id'));
    expect(line).toMatchObject({ level: 30, msg: 'request', route: '/fine', status: 200 });
    expect(line).not.toHaveProperty('err');
  });
});
