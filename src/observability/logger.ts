import pino, { type Logger } from 'pino';

import type { LogLevel } from '../config/settings.js';

export type { Logger };

/** Log lines are buffered and written synchronously in chunks of this size (flushed on
 * exit). Profiled with `npm run bench`: one write per request line, or asynchronous writes
 * through libuv's thread pool, cost more than all the rest of the instrumentation. Not
 * larger: sonic-boom measures its pending chunk's byte length at every line, so a bigger
 * chunk costs more per line than the syscalls it saves (per line, to a pipe: 4.8 µs at
 * 2 KiB, 5.9 µs at 8 KiB, 6.6 µs unbuffered). */
const WRITE_CHUNK_BYTES = 2 * 1024;
const FLUSH_INTERVAL_MS = 250;

export interface LoggerOptions {
  level: LogLevel;
  /** Human-readable lines (pino-pretty, a devDependency) instead of JSON. */
  pretty: boolean;
}

/**
 * The process's one logger: JSON lines on stdout (pino), time in epoch milliseconds (pino's
 * own format; an ISO string cost 3 µs a line on the token endpoint, profiled). In
 * development it pretty-prints if pino-pretty is installed; production images log JSON.
 * No redaction pass (it cost more per line than the line itself): callers log ids and
 * route templates only, never request bodies, headers, URLs or token objects, and
 * test/operations/observability.test.ts checks every line of a full flow for secrets.
 */
export async function createLogger({ level, pretty }: LoggerOptions): Promise<Logger> {
  const options = {
    level,
    base: undefined,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (!pretty) return buffered(pino(options, pino.destination({ dest: 1, sync: true, minLength: WRITE_CHUNK_BYTES })));
  try {
    const { default: prettyStream } = await import('pino-pretty');
    return pino(options, prettyStream({ translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  } catch (err) {
    // Expected without devDependencies (production image): fall back to JSON.
    if ((err as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    return buffered(pino(options, pino.destination({ dest: 1, sync: true, minLength: WRITE_CHUNK_BYTES })));
  }
}

/** A quiet moment still shows its last lines within FLUSH_INTERVAL_MS; pino flushes
 * synchronously on exit. */
function buffered(logger: Logger): Logger {
  setInterval(() => logger.flush(), FLUSH_INTERVAL_MS).unref();
  return logger;
}

/** For servers composed in tests and the bench when nobody reads the output. */
export const silentLogger: Logger = pino({ level: 'silent' });
