import { describe, expect, it } from 'vitest';

import { hashPassword, verifyPassword } from '../../src/security/password.js';

describe('password hashing', () => {
  it('stores scrypt parameters and a per-user salt, never the password', async () => {
    const a = await hashPassword('correct horse', 2 ** 14);
    const b = await hashPassword('correct horse', 2 ** 14);
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$[\w-]+\$[\w-]+$/);
    expect(a).not.toContain('correct horse');
    expect(a).not.toBe(b);
  });

  it('verifies the right password and rejects a wrong or malformed one', async () => {
    const stored = await hashPassword('correct horse', 2 ** 14);
    expect(await verifyPassword('correct horse', stored)).toBe(true);
    expect(await verifyPassword('correct horsE', stored)).toBe(false);
    expect(await verifyPassword('correct horse', 'plain-text')).toBe(false);
  });
});
