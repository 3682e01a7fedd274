import pino, { type Logger } from 'pino';

import type { LogLevel } from '../config/settings.js';

export type { Logger };

/** Field names whose values are credentials wherever they appear one level deep. Nothing
 * logs them on purpose; this is the backstop if an error or a detail object carries one. */
const REDACTED = ['password', 'client_secret', 'authorization', 'cookie', 'access_token', 'refresh_token', 'id_token', 'code']
  .flatMap((field) => [field, `*.${field}`]);

export interface LoggerOptions {
  level: LogLevel;
  /** Human-readable lines (pino-pretty, a devDependency) instead of JSON. */
  pretty: boolean;
}

/**
 * The process's one logger: JSON lines on stdout (pino), ISO time. In development it
 * pretty-prints if pino-pretty is installed; production images omit it and log JSON.
 */
export async function createLogger({ level, pretty }: LoggerOptions): Promise<Logger> {
  const options = {
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: REDACTED, censor: '[redacted]' },
  };
  if (!pretty) return pino(options);
  try {
    const { default: prettyStream } = await import('pino-pretty');
    return pino(options, prettyStream({ translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  } catch (err) {
    // Expected without devDependencies (production image): fall back to JSON.
    if ((err as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    return pino(options);
  }
}

/** For servers composed in tests and the bench when nobody reads the output. */
export const silentLogger: Logger = pino({ level: 'silent' });
