import { randomBytes } from 'node:crypto';

import { defaults } from '../config/defaults.js';
import { argon2id, nodeCryptoArgon2, type Argon2Implementation } from '../src/security/argon2.js';
import { hashPassword, verifyPassword } from '../src/security/password.js';
import { percentile } from './stats.js';

/**
 * What one sign-in's password check costs at the production argon2id cost: the time a
 * login request spends hashing and the memory each concurrent hash holds; and, beside the
 * implementation in use, what the same hash costs with node:crypto's.
 */
export async function measurePasswordHashing(samples = 20): Promise<string> {
  const params = defaults.password.argon2;
  const stored = await hashPassword('bench-password', params);
  const check = await p50(samples, () => verifyPassword('bench-password', stored));
  const lines = [
    `Password check (argon2id m=${params.memoryKiB} KiB, t=${params.iterations}, p=${params.parallelism}, ${argon2id.name}): ` +
      `p50 ${check.toFixed(1)} ms, ${(params.memoryKiB / 1024).toFixed(0)} MiB per concurrent hash`,
  ];
  if (argon2id !== nodeCryptoArgon2) {
    const salt = randomBytes(16);
    const derive = (implementation: Argon2Implementation) => () => implementation.derive('bench-password', salt, params, 32);
    const [ours, node] = [await p50(samples, derive(argon2id)), await p50(samples, derive(nodeCryptoArgon2))];
    lines.push(`  the same hash: ${ours.toFixed(1)} ms with ${argon2id.name}, ${node.toFixed(1)} ms with ${nodeCryptoArgon2.name}`);
  }
  return lines.join('\n');
}

async function p50(samples: number, work: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < samples; i += 1) {
    const start = performance.now();
    await work();
    times.push(performance.now() - start);
  }
  return percentile(times, 50);
}
