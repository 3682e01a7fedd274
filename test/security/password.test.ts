import { describe, expect, it } from 'vitest';

import { defaults } from '../../config/defaults.js';
import { hashPassword, needsRehash, verifyPassword } from '../../src/security/password.js';
import { legacyScryptHash } from '../support/legacy-password.js';

const cheap = { memoryKiB: 1024, iterations: 1, parallelism: 1 };

describe('password hashing', () => {
  it('stores argon2id as a standard PHC string with its parameters and a per-user salt, never the password', async () => {
    const a = await hashPassword('correct horse', defaults.password.argon2);
    const b = await hashPassword('correct horse', defaults.password.argon2);
    expect(a).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(a).not.toContain('correct horse');
    expect(a).not.toBe(b);
  });

  it('verifies a hash made by the argon2 reference implementation (PHC interoperability)', async () => {
    // From the reference implementation's test suite: password "password", salt "somesalt".
    const reference = '$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc';
    expect(await verifyPassword('password', reference)).toBe(true);
    expect(await verifyPassword('Password', reference)).toBe(false);
  });

  it('verifies the right password and rejects a wrong or malformed one', async () => {
    const stored = await hashPassword('correct horse', cheap);
    expect(await verifyPassword('correct horse', stored)).toBe(true);
    expect(await verifyPassword('correct horsE', stored)).toBe(false);
    expect(await verifyPassword('correct horse', 'plain-text')).toBe(false);
    expect(await verifyPassword('correct horse', stored.replace('$argon2id$', '$argon2i$'))).toBe(false);
    expect(await verifyPassword('correct horse', stored.replace('v=19', 'v=16'))).toBe(false);
  });

  it('still verifies hashes written with scrypt before the change', async () => {
    const legacy = legacyScryptHash('old password');
    expect(await verifyPassword('old password', legacy)).toBe(true);
    expect(await verifyPassword('old passworD', legacy)).toBe(false);
  });

  it('asks for a rehash of scrypt and of cheaper argon2id hashes, never of stronger ones', async () => {
    const current = defaults.password.argon2;
    expect(needsRehash(legacyScryptHash('x'), current)).toBe(true);
    expect(needsRehash(await hashPassword('x', cheap), current)).toBe(true);
    expect(needsRehash(await hashPassword('x', { ...current, iterations: 1 }), current)).toBe(true);
    expect(needsRehash(await hashPassword('x', current), current)).toBe(false);
    expect(needsRehash(await hashPassword('x', { ...current, iterations: 3 }), current)).toBe(false);
  });
});
