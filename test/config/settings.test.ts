import { describe, expect, it } from 'vitest';

import { loadSettings, SettingsError } from '../../src/config/settings.js';

describe('settings', () => {
  it('defaults to port 3000, a localhost issuer and the API audience under it', () => {
    const s = loadSettings({});
    expect(s.port).toBe(3000);
    expect(s.issuer).toBe('http://localhost:3000');
    expect(s.apiAudience).toBe('http://localhost:3000/api');
    expect(s.ttl.accessToken).toBeLessThanOrEqual(600);
    expect(s.refreshToken).toMatchObject({ rotate: true, graceSeconds: 0 });
  });

  it('derives the issuer from PORT and drops a trailing slash from ISSUER', () => {
    expect(loadSettings({ PORT: '4000' }).issuer).toBe('http://localhost:4000');
    expect(loadSettings({ ISSUER: 'https://id.example.com/' }).issuer).toBe('https://id.example.com');
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['ISSUER', 'not a url'],
    ['MONGODB_URI', 'postgres://x'],
    ['ACCESS_TOKEN_TTL', '-5'],
    ['REFRESH_TOKEN_GRACE_SECONDS', '61'],
    ['REFRESH_TOKEN_ROTATE', 'maybe'],
    ['SIGNING_ALG', 'HS256'],
    ['PASSWORD_ARGON2_MEMORY_KIB', 'lots'],
    ['PASSWORD_ARGON2_ITERATIONS', '0'],
    ['PASSWORD_ARGON2_PARALLELISM', '0'],
    ['PASSWORD_HASH_CONCURRENCY', '0'],
    ['LOGIN_MAX_FAILURES_PER_USER', '0'],
    ['LOGIN_MAX_FAILURES_PER_IP', '-1'],
    ['LOGIN_LOCKOUT_WAIT_INCREMENT', 'soon'],
  ])('rejects %s=%s with a message naming the setting', (name, value) => {
    expect(() => loadSettings({ [name]: value })).toThrow(SettingsError);
    expect(() => loadSettings({ [name]: value })).toThrow(new RegExp(`invalid setting ${name}`));
  });

  it('refuses production without a database, keys and secrets, naming each missing one', () => {
    let message = '';
    try {
      loadSettings({ NODE_ENV: 'production' });
    } catch (err) {
      message = (err as Error).message;
    }
    for (const name of ['MONGODB_URI', 'JWKS or JWKS_FILE', 'COOKIE_KEYS', 'ADMIN_CLIENT_ID', 'ADMIN_CLIENT_SECRET', 'ISSUER']) {
      expect(message).toContain(name);
    }
  });

  it('refuses the development admin secret in production', () => {
    const env = {
      NODE_ENV: 'production', MONGODB_URI: 'mongodb://db/oidc', JWKS: '{"keys":[]}', COOKIE_KEYS: 'k',
      ADMIN_CLIENT_ID: 'admin', ADMIN_CLIENT_SECRET: 'dev-admin-secret-change-me', ISSUER: 'https://id.example.com',
    };
    expect(() => loadSettings(env)).toThrow(/ADMIN_CLIENT_SECRET/);
    expect(loadSettings({ ...env, ADMIN_CLIENT_SECRET: 's3cr3t-from-vault' }).production).toBe(true);
  });

  it('hashes passwords with argon2id at OWASP cost by default, tunable by settings', () => {
    expect(loadSettings({}).password.argon2).toEqual({ memoryKiB: 19456, iterations: 2, parallelism: 1 });
    expect(loadSettings({ PASSWORD_ARGON2_MEMORY_KIB: '65536', PASSWORD_ARGON2_ITERATIONS: '3' }).password.argon2)
      .toEqual({ memoryKiB: 65536, iterations: 3, parallelism: 1 });
    // Tests may hash cheaply; production may not.
    expect(loadSettings({ NODE_ENV: 'test', PASSWORD_ARGON2_MEMORY_KIB: '1024', PASSWORD_ARGON2_ITERATIONS: '1' }).password.argon2.memoryKiB).toBe(1024);
  });

  it.each([
    [{ PASSWORD_ARGON2_MEMORY_KIB: '8192' }],
    [{ PASSWORD_ARGON2_ITERATIONS: '1' }],
    [{ PASSWORD_ARGON2_MEMORY_KIB: '7168', PASSWORD_ARGON2_ITERATIONS: '4' }],
  ])('refuses a password cost below OWASP\'s minimum in production: %j', (cost) => {
    const env = {
      NODE_ENV: 'production', MONGODB_URI: 'mongodb://db/oidc', JWKS: '{"keys":[]}', COOKIE_KEYS: 'k',
      ADMIN_CLIENT_ID: 'admin', ADMIN_CLIENT_SECRET: 's3cr3t-from-vault', ISSUER: 'https://id.example.com',
    };
    expect(() => loadSettings({ ...env, ...cost })).toThrow(/PASSWORD_ARGON2_MEMORY_KIB=\d+ with PASSWORD_ARGON2_ITERATIONS=\d+ is below OWASP/);
    // OWASP's equivalent trade-offs are accepted: less memory, more passes.
    expect(loadSettings({ ...env, PASSWORD_ARGON2_MEMORY_KIB: '7168', PASSWORD_ARGON2_ITERATIONS: '5' }).production).toBe(true);
    expect(loadSettings({ ...env, PASSWORD_ARGON2_MEMORY_KIB: '47104', PASSWORD_ARGON2_ITERATIONS: '1' }).production).toBe(true);
  });

  it('bounds password hashing by CPU and refuses a memory cost argon2 cannot run', () => {
    const gate = loadSettings({ PASSWORD_HASH_CONCURRENCY: '3' }).password.gate;
    expect(gate).toEqual({ concurrency: 3, queue: 12, perNetwork: 7 });
    expect(() => loadSettings({ PASSWORD_ARGON2_MEMORY_KIB: '16', PASSWORD_ARGON2_PARALLELISM: '4' })).toThrow(/PASSWORD_ARGON2_MEMORY_KIB/);
  });
});
