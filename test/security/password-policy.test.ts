import { describe, expect, it } from 'vitest';

import { checkPassword } from '../../src/security/password-policy.js';

describe('password policy', () => {
  it('accepts a long, uncommon password', async () => {
    expect(await checkPassword('correct horse battery staple', { username: 'alice', email: 'alice@example.com' })).toBeUndefined();
  });

  it('counts characters, not UTF-16 units, for the length limits', async () => {
    expect((await checkPassword('short'))?.rule).toBe('too_short');
    expect((await checkPassword('🔑🔑🔑🔑🔑🔑🔑'))?.rule).toBe('too_short');
    expect(await checkPassword('🔑🔑🔑🔑🔑🔑🔑🔑')).toBeUndefined();
    expect((await checkPassword('x'.repeat(129)))?.rule).toBe('too_long');
    expect(await checkPassword(`${'x'.repeat(127)}y`)).toBeUndefined();
  });

  it('refuses the username or the email, whatever the case', async () => {
    const owner = { username: 'Alice.Smith', email: 'alice@example.com' };
    expect((await checkPassword('alice.smith', owner))?.rule).toBe('is_username');
    expect((await checkPassword('ALICE@EXAMPLE.COM', owner))?.rule).toBe('is_email');
  });

  it('refuses commonly used passwords, whatever the case, with a message per rule', async () => {
    const violation = await checkPassword('Password1');
    expect(violation?.rule).toBe('common');
    expect(violation?.message).toMatch(/too common/);
    expect((await checkPassword('qwertyuiop'))?.rule).toBe('common');
  });
});
