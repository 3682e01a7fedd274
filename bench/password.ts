import { defaults } from '../config/defaults.js';
import { hashPassword, verifyPassword } from '../src/security/password.js';
import { percentile } from './stats.js';

/**
 * What one sign-in's password check costs at the production scrypt cost: the time a
 * login request spends hashing and the memory each concurrent hash holds (128 · N · r bytes).
 */
export async function measurePasswordHashing(samples = 10): Promise<string> {
  const { scryptN, scryptR } = defaults.password;
  const stored = await hashPassword('bench-password', scryptN);
  const times: number[] = [];
  for (let i = 0; i < samples; i += 1) {
    const start = performance.now();
    await verifyPassword('bench-password', stored);
    times.push(performance.now() - start);
  }
  const memory = (128 * scryptN * scryptR) / 1024 / 1024;
  return `Password check (scrypt N=2^${Math.log2(scryptN)}, r=${scryptR}): p50 ${percentile(times, 50).toFixed(0)} ms, ` +
    `${memory} MiB per concurrent hash`;
}
