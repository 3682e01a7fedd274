import { availableParallelism } from 'node:os';

import { defaults } from '../../config/defaults.js';

/**
 * Sizes libuv's thread pool before anything uses it (main.ts imports this first; the pool
 * starts with its first task). Password checks run there, and with node:crypto's argon2
 * (the fallback, src/security/argon2.ts) every thread that has ever hashed keeps the hash's
 * memory (m=19 MiB) in its malloc arena: one thread per CPU for the hashing gate plus a
 * spare, so signing, file and DNS work find a free thread, bounds that memory where libuv's
 * default of 4 threads need not. UV_THREADPOOL_SIZE wins.
 */
process.env.UV_THREADPOOL_SIZE ??= String(availableParallelism() + defaults.hashGate.spareThreads);
