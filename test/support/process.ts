import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { freePort, TEST_ENV } from './server.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 5_000;

export interface ServerProcessOptions {
  /** Environment for `src/main.ts` on top of TEST_ENV (MONGODB_URI, DATA_DIR, ISSUER, …).
   * PORT defaults to a free port and ISSUER to http://127.0.0.1:<PORT>. */
  env?: Record<string, string>;
  /** Output line that means "ready"; defaults to main.ts's listening line. */
  ready?: RegExp;
  /** The script to run; defaults to `src/main.ts` (`npm start`). */
  script?: string;
}

export interface ServerProcess {
  issuer: string;
  port: number;
  /** Everything the process printed so far (for diagnostics; tokens are never logged). */
  output(): string;
  /** SIGTERM (main.ts shuts down cleanly), SIGKILL if it lingers; resolves once it exited. */
  stop(): Promise<void>;
  /** Sends a signal and returns at once (stop() still cleans up). */
  signal(name: NodeJS.Signals): void;
  /** Resolves with the exit code (null if killed by a signal) once the process exited. */
  exited: Promise<number | null>;
}

/** Development mode seeds demo data after listening; wait for it when a second instance
 * on the same database starts next, or both may try to create the same demo user. */
export const SEEDED = /Development seed/;

/**
 * Runs the server as `npm start` does, in its own Node process (tsx loader, no npx wrapper
 * so the pid is the server's), and resolves once it prints its ready line.
 */
export async function startServerProcess(options: ServerProcessOptions = {}): Promise<ServerProcess> {
  const port = options.env?.PORT ? Number(options.env.PORT) : await freePort();
  const issuer = options.env?.ISSUER ?? `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['--import', 'tsx', options.script ?? 'src/main.ts'], {
    cwd: repoRoot,
    env: { ...process.env, ...TEST_ENV, PORT: String(port), ISSUER: issuer, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const append = (chunk: string) => { output += chunk; };
  child.stdout!.setEncoding('utf8').on('data', append);
  child.stderr!.setEncoding('utf8').on('data', append);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  try {
    await ready(child, options.ready ?? /listening on port \d+/, () => output);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    issuer,
    port,
    output: () => output,
    exited,
    signal: (name) => { child.kill(name); },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const escalate = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(escalate);
    },
  };
}

function ready(child: ChildProcess, pattern: RegExp, output: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      child.stdout!.off('data', check);
      child.off('exit', onExit);
      if (err) reject(err); else resolve();
    };
    const tail = () => output().trim().split('\n').slice(-15).join('\n');
    const check = () => { if (pattern.test(output())) done(); };
    const onExit = (code: number | null) => done(new Error(`server process exited (code ${code}) before ready:\n${tail()}`));
    const timer = setTimeout(() => done(new Error(`server process not ready after ${READY_TIMEOUT_MS / 1000} s:\n${tail()}`)), READY_TIMEOUT_MS);
    child.stdout!.on('data', check);
    child.once('exit', onExit);
  });
}
