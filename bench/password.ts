import { defaults } from '../config/defaults.js';
import { hashPassword, verifyPassword } from '../src/security/password.js';
import { percentile } from './stats.js';

/**
 * What one sign-in's password check costs at the production argon2id cost: the time a
 * login request spends hashing and the memory each concurrent hash holds.
 */
export async function measurePasswordHashing(samples = 20): Promise<string> {
  const params = defaults.password.argon2;
  const stored = await hashPassword('bench-password', params);
  const times: number[] = [];
  for (let i = 0; i < samples; i += 1) {
    const start = performance.now();
    await verifyPassword('bench-password', stored);
    times.push(performance.now() - start);
  }
  return `Password check (argon2id m=${params.memoryKiB} KiB, t=${params.iterations}, p=${params.parallelism}): ` +
    `p50 ${percentile(times, 50).toFixed(0)} ms, ${(params.memoryKiB / 1024).toFixed(0)} MiB per concurrent hash`;
}
