import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';

import { argon2id, nodeCryptoArgon2, rustArgon2, type Argon2Implementation } from '../../src/security/argon2.js';

describe('argon2id implementations', async () => {
  const rust = await rustArgon2();

  it('uses the prebuilt Rust implementation on this platform (linux x64), node:crypto only where none loads', () => {
    expect(rust?.name).toBe('@node-rs/argon2');
    expect(argon2id.name).toBe('@node-rs/argon2');
  });

  it('gives the RFC 9106 argon2id answer with either', async () => {
    // Reference implementation's test vector: password "password", salt "somesalt", m=64 MiB, t=2, p=1.
    const expected = Buffer.from('CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc', 'base64');
    const params = { memoryKiB: 65536, iterations: 2, parallelism: 1 };
    for (const implementation of [nodeCryptoArgon2, rust!] as Argon2Implementation[]) {
      expect(await implementation.derive('password', Buffer.from('somesalt'), params, 32)).toEqual(expected);
    }
  });

  it('derives the same bytes with both, so hashes stored by one verify with the other', async () => {
    const cases = [
      { password: 'correct horse', params: { memoryKiB: 19456, iterations: 2, parallelism: 1 }, tagLength: 32 },
      { password: 'pässwörd ✓', params: { memoryKiB: 1024, iterations: 3, parallelism: 2 }, tagLength: 16 },
      { password: '', params: { memoryKiB: 4096, iterations: 1, parallelism: 4 }, tagLength: 64 },
    ];
    for (const { password, params, tagLength } of cases) {
      const salt = randomBytes(16);
      const [fromNode, fromRust] = await Promise.all([
        nodeCryptoArgon2.derive(password, salt, params, tagLength),
        rust!.derive(password, salt, params, tagLength),
      ]);
      expect(fromRust).toEqual(fromNode);
      expect(fromRust).toHaveLength(tagLength);
    }
  });
});
