import { argon2 } from 'node:crypto';

/** argon2id cost: memory in KiB, passes over it, lanes. Stored with each hash. */
export interface Argon2Params {
  memoryKiB: number;
  iterations: number;
  parallelism: number;
}

/** argon2id (RFC 9106, version 0x13) of an already normalized password. */
export type DeriveArgon2id = (password: string, salt: Buffer, params: Argon2Params, tagLength: number) => Promise<Buffer>;

export interface Argon2Implementation {
  /** Said at start-up, so the operator knows which one runs. */
  name: string;
  derive: DeriveArgon2id;
}

/** OpenSSL's argon2 through node:crypto: on every Node 24, portable C without SIMD. */
export const nodeCryptoArgon2: Argon2Implementation = {
  name: 'node:crypto',
  derive: (password, salt, params, tagLength) => new Promise((resolve, reject) => {
    argon2('argon2id', {
      message: password, nonce: salt, tagLength,
      memory: params.memoryKiB, passes: params.iterations, parallelism: params.parallelism,
    }, (err, key) => (err ? reject(err) : resolve(key)));
  }),
};

/**
 * The Rust argon2 crate (SIMD) behind @node-rs/argon2's prebuilt N-API binaries, or
 * undefined where none loads for this platform. Like node:crypto's it runs in libuv's
 * thread pool, so the hashing gate and the pool's size mean the same with either.
 */
export async function rustArgon2(): Promise<Argon2Implementation | undefined> {
  // Its allocator (mimalloc, linked into the binary) commits its first segment eagerly on
  // load: 2 MB resident in a server that has not hashed yet (measured). On demand instead,
  // the hash takes the same time and an idle server stays smaller. An operator's setting wins.
  process.env.MIMALLOC_EAGER_COMMIT ??= '0';
  let binding: typeof import('@node-rs/argon2');
  try {
    binding = await import('@node-rs/argon2');
  } catch {
    // No binary for this platform (or installed without optional dependencies).
    return undefined;
  }
  return {
    name: '@node-rs/argon2',
    derive: (password, salt, params, tagLength) => binding.hashRaw(password, {
      salt, outputLen: tagLength, memoryCost: params.memoryKiB, timeCost: params.iterations, parallelism: params.parallelism,
      algorithm: ARGON2ID, version: VERSION_0X13,
    }),
  };
}

// @node-rs/argon2 declares these as const enums, which a per-file transpiler cannot inline.
const ARGON2ID = 2 satisfies import('@node-rs/argon2').Algorithm.Argon2id;
const VERSION_0X13 = 1 satisfies import('@node-rs/argon2').Version.V0x13;

/**
 * The implementation every password hash goes through. Both compute the same function and
 * read each other's hashes (test/security/argon2.test.ts); the Rust one takes less than
 * half the CPU time (m=19 MiB, t=2 on the bench machine: 9-13 ms against 22-25 ms), and a
 * password check is the largest single cost of a sign-in, so it is preferred where it loads.
 */
export const argon2id: Argon2Implementation = (await rustArgon2()) ?? nodeCryptoArgon2;
